//! The `update-server` command line: `serve` and `admin-token create|list|revoke`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use update_server::scope::{Scope, Scopes};
use update_server::server::{list_admin_tokens, revoke_admin_tokens};
use update_server::{ServeArgs, Server, ServerConfig, create_scoped_admin_token};

/// Worker threads of the runtime: an embedded-friendly default.
const WORKER_THREADS: usize = 2;

#[derive(Parser)]
#[command(name = "update-server", version, about = "OTA update server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the repository, the device and admin APIs and metrics.
    Serve(Box<ServeArgs>),
    /// Manage admin tokens.
    #[command(subcommand)]
    AdminToken(AdminTokenCommand),
}

#[derive(Subcommand)]
enum AdminTokenCommand {
    /// Create an admin token and print it (only its hash is stored).
    Create {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        #[arg(long, value_name = "NAME", default_value = "admin")]
        name: String,
        /// What the token may do: read, publish, rollout, devices or all (repeatable;
        /// every scope implies read) [default: all].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
    },
    /// List the admin tokens: names, scopes, creation times (never the tokens).
    List {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Revoke every admin token with this name.
    Revoke {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        #[arg(long, value_name = "NAME")]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::AdminToken(command) => admin_token(command).await,
    }
}

async fn admin_token(command: AdminTokenCommand) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match command {
        AdminTokenCommand::Create {
            data_dir,
            name,
            scopes,
        } => {
            let token = create_scoped_admin_token(&data_dir, &name, &Scopes::new(scopes))
                .await
                .context("cannot create admin token")?;
            writeln!(stdout, "{token}").context("cannot print the token")?;
        }
        AdminTokenCommand::List { data_dir } => {
            let tokens = list_admin_tokens(&data_dir)
                .await
                .context("cannot list admin tokens")?;
            writeln!(stdout, "{:<24} {:<32} CREATED", "NAME", "SCOPES")?;
            for token in tokens {
                writeln!(
                    stdout,
                    "{:<24} {:<32} {}",
                    token.name,
                    token.scopes.to_string(),
                    token.created_at.format("%Y-%m-%d %H:%M:%SZ")
                )?;
            }
        }
        AdminTokenCommand::Revoke { data_dir, name } => {
            let revoked = revoke_admin_tokens(&data_dir, &name)
                .await
                .context("cannot revoke admin tokens")?;
            if revoked == 0 {
                anyhow::bail!("no admin token is named {name:?}");
            }
            writeln!(stdout, "revoked {revoked} admin token(s) named {name}")?;
        }
    }
    stdout.flush().context("cannot write to stdout")?;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServerConfig::from_args(args)?;
    let server = Server::start(config).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "update-server listening on {}", server.url())
            .and_then(|()| stdout.flush())
            .context("cannot write to stdout")?;
    }
    shutdown_signal()
        .await
        .context("cannot wait for shutdown signals")?;
    tracing::info!("shutting down");
    server.shutdown().await.context("server failed")?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
