//! The demo's `update-server` process: admin token, start, the URL from its one stdout
//! line, and stop. Its logs go to a file in the demo directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// What the server prints on stdout once it listens (docs/interfaces.md).
const LISTENING_PREFIX: &str = "update-server listening on ";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 20;

pub struct ServerFiles {
    pub data_dir: PathBuf,
    pub root: PathBuf,
    pub snapshot_key: PathBuf,
    pub timestamp_key: PathBuf,
    pub log: PathBuf,
}

/// A running server, killed if dropped.
pub struct ServerProcess {
    child: Child,
    pub url: String,
    /// Kept open: the server must never find its stdout closed.
    _stdout: Lines<BufReader<ChildStdout>>,
}

/// `update-server admin-token create --data-dir DIR`: the token it prints.
pub async fn create_admin_token(server_bin: &Path, data_dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(server_bin)
        .args(["admin-token", "create", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", server_bin.display()))?;
    if !output.status.success() {
        bail!(
            "update-server admin-token create failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .context("update-server admin-token create printed no token")?;
    Ok(token.to_string())
}

/// Starts `update-server serve` on an OS-chosen port and waits for its listening line.
pub async fn start(server_bin: &Path, files: &ServerFiles) -> anyhow::Result<ServerProcess> {
    let log = std::fs::File::create(&files.log)
        .with_context(|| format!("cannot create {}", files.log.display()))?;
    let mut child = Command::new(server_bin)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--poll-interval", "1s"])
        .arg("--data-dir")
        .arg(&files.data_dir)
        .arg("--root")
        .arg(&files.root)
        .arg("--snapshot-key")
        .arg(&files.snapshot_key)
        .arg("--timestamp-key")
        .arg(&files.timestamp_key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", server_bin.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("the server's stdout was not captured")?;
    let mut lines = BufReader::new(stdout).lines();
    let first_line = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
    let url = match first_line {
        Ok(Ok(Some(line))) => line
            .trim()
            .strip_prefix(LISTENING_PREFIX)
            .map(str::to_string)
            .with_context(|| format!("unexpected first line from update-server: {line:?}"))?,
        Ok(Ok(None)) | Ok(Err(_)) => {
            let status = child.wait().await.ok();
            bail!(
                "update-server stopped before listening ({}); its log:\n{}",
                status.map_or("unknown status".to_string(), |s| s.to_string()),
                log_tail(&files.log, LOG_TAIL_LINES)
            );
        }
        Err(_) => bail!(
            "update-server did not print its listening line within {}s; its log:\n{}",
            START_TIMEOUT.as_secs(),
            log_tail(&files.log, LOG_TAIL_LINES)
        ),
    };
    Ok(ServerProcess {
        child,
        url,
        _stdout: lines,
    })
}

impl ServerProcess {
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child
            .start_kill()
            .context("cannot stop update-server")?;
        self.child
            .wait()
            .await
            .context("cannot stop update-server")?;
        Ok(())
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..]
                .iter()
                .map(|line| format!("    {}", crate::display::printable(line, 300)))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("    (cannot read {}: {e})", path.display()),
    }
}
