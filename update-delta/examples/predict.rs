//! Writes the predicted base of OLD for NEW (see `update_delta::exe`) to OUT, so that any
//! binary-delta tool can diff it against NEW, and prints what the analysis found.
//!
//! `cargo run --release -p update-delta --example predict -- OLD NEW OUT`

use std::error::Error;
use std::io::Write;
use std::time::Instant;

use update_delta::exe::BasePrediction;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [old, new, out] = args.as_slice() else {
        return Err("usage: predict OLD NEW OUT".into());
    };
    let old = std::fs::read(old).map_err(|e| format!("reading {old}: {e}"))?;
    let new = std::fs::read(new).map_err(|e| format!("reading {new}: {e}"))?;
    let started = Instant::now();
    let (prediction, report) = BasePrediction::analyse_with_report(&old, &new);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{report}")?;
    writeln!(stdout, "analysis took {:.1?}", started.elapsed())?;
    let Some(prediction) = prediction else {
        return Err("not executables of one supported architecture".into());
    };
    let predicted = prediction.predicted_base(&old);
    let mut section = Vec::new();
    prediction.write_to(&mut section)?;
    writeln!(
        stdout,
        "transform section {} bytes, device memory {} bytes, {} of {} base bytes rewritten",
        section.len(),
        prediction.memory_needed(),
        old.iter().zip(&predicted).filter(|(a, b)| a != b).count(),
        old.len()
    )?;
    std::fs::write(out, &predicted).map_err(|e| format!("writing {out}: {e}"))?;
    Ok(())
}
