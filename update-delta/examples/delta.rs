//! Make or apply a delta between files, printing sizes and times; used to measure
//! generation speed and apply peak memory (`/usr/bin/time -v`):
//!
//! ```text
//! cargo run --release -p update-delta --example delta -- create OLD NEW OUT [BUDGET]
//! cargo run --release -p update-delta --example delta -- apply OLD DELTA OUT [MAX_MEMORY]
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use update_delta::{CreateOptions, Limits, apply, create, format::Header};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let number = |at: usize, default: u64| -> Result<u64, String> {
        args.get(at).map_or(Ok(default), |text| {
            text.parse().map_err(|_| format!("not a number: {text}"))
        })
    };
    match args {
        [command, old, new, out, ..] if command == "create" => {
            let started = Instant::now();
            let old = std::fs::read(old).map_err(|e| format!("{old}: {e}"))?;
            let new = std::fs::read(new).map_err(|e| format!("{new}: {e}"))?;
            let options = CreateOptions {
                apply_memory_budget: number(4, 8 << 20)?,
                ..CreateOptions::default()
            };
            let mut file = BufWriter::new(File::create(out).map_err(|e| format!("{out}: {e}"))?);
            let created = create(&old, &new, &options, &mut file).map_err(|e| e.to_string())?;
            file.flush().map_err(|e| e.to_string())?;
            println!(
                "{} bytes ({} of new), {}{}, apply memory {} bytes, {:.2?}",
                created.length,
                created.length as f64 / new.len().max(1) as f64,
                created.header.algorithm,
                if created.transformed {
                    " on the predicted base"
                } else {
                    ""
                },
                created.header.apply_memory,
                started.elapsed()
            );
            for candidate in &created.candidates {
                println!(
                    "  candidate {}{}: {}",
                    candidate.algorithm,
                    if candidate.transformed {
                        " (predicted base)"
                    } else {
                        ""
                    },
                    candidate
                        .length
                        .map_or("over the memory budget".into(), |l| l.to_string())
                );
            }
            Ok(())
        }
        [command, old, delta, out, ..] if command == "apply" => {
            let started = Instant::now();
            let base = File::open(old).map_err(|e| format!("{old}: {e}"))?;
            let mut delta_file =
                BufReader::new(File::open(delta).map_err(|e| format!("{delta}: {e}"))?);
            let header = Header::read_from(&mut delta_file).map_err(|e| e.to_string())?;
            let mut delta_file =
                BufReader::new(File::open(delta).map_err(|e| format!("{delta}: {e}"))?);
            let mut result = BufWriter::new(File::create(out).map_err(|e| format!("{out}: {e}"))?);
            let limits = Limits {
                max_memory: number(4, 8 << 20)?,
                result_length: header.result_length,
            };
            let applied =
                apply(&base, &mut delta_file, &mut result, &limits).map_err(|e| e.to_string())?;
            result.flush().map_err(|e| e.to_string())?;
            println!(
                "{} bytes written, {:.2?}",
                applied.written,
                started.elapsed()
            );
            Ok(())
        }
        _ => Err(
            "usage: delta create OLD NEW OUT [BUDGET] | delta apply OLD DELTA OUT [MAX_MEMORY]"
                .into(),
        ),
    }
}
