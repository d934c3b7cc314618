//! `tuf-client`: the TUF conformance command line (see `update_client::tuf_cli`).
//!
//! ```text
//! tuf-client --metadata-dir DIR init ROOT_FILE
//! tuf-client --metadata-dir DIR --metadata-url URL refresh
//! tuf-client --metadata-dir DIR --metadata-url URL --target-name NAME [--target-name NAME2 ...]
//!            --target-base-url URL2 --target-dir DIR2 download
//! ```
//! Exit 0 on success, 1 on any failure. Steps are logged on stderr (`RUST_LOG` filters;
//! debug by default).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reqwest::Url;
use update_client::tuf_cli;

#[derive(Parser)]
#[command(version, about = "TUF client (conformance command line)")]
struct Cli {
    /// Where trusted metadata is kept (root.json, timestamp.json, ...).
    #[arg(long, global = true)]
    metadata_dir: Option<PathBuf>,
    /// Base URL of the repository's metadata.
    #[arg(long, global = true)]
    metadata_url: Option<Url>,
    /// Target to download; repeat for several, processed in order.
    #[arg(long = "target-name", global = true)]
    target_names: Vec<String>,
    /// Base URL of the repository's targets.
    #[arg(long, global = true)]
    target_base_url: Option<Url>,
    /// Where downloaded targets are stored.
    #[arg(long, global = true)]
    target_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Trust ROOT_FILE as the initial root.
    Init { root_file: PathBuf },
    /// Update the top-level metadata.
    Refresh,
    /// Refresh, then download and verify each --target-name.
    Download,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("debug,hyper=info,reqwest=info,h2=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tuf-client: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let metadata_dir = cli.metadata_dir.ok_or("--metadata-dir is required")?;
    if let Command::Init { root_file } = &cli.command {
        return tuf_cli::init(&metadata_dir, root_file).map_err(|e| e.to_string());
    }
    let metadata_url = cli.metadata_url.ok_or("--metadata-url is required")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        match cli.command {
            Command::Init { .. } => Ok(()),
            Command::Refresh => {
                let updater = tuf_cli::updater(&metadata_dir, &metadata_url, None)
                    .map_err(|e| e.to_string())?;
                tuf_cli::refresh(&updater).await.map_err(|e| e.to_string())
            }
            Command::Download => {
                let target_dir = cli.target_dir.ok_or("--target-dir is required")?;
                let base = cli.target_base_url.ok_or("--target-base-url is required")?;
                if cli.target_names.is_empty() {
                    return Err("at least one --target-name is required".into());
                }
                let updater = tuf_cli::updater(&metadata_dir, &metadata_url, Some(&base))
                    .map_err(|e| e.to_string())?;
                tuf_cli::download(&updater, &cli.target_names, &target_dir)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    })
}
