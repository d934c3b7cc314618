//! Running the configured external commands (health check, reboot) with a time limit.
//!
//! A command runs in its own process group, in the config file's directory, with no
//! standard input. On timeout the whole group is killed, so a shell script's children
//! cannot linger and hold the agent's output open. The tail of its standard error is
//! kept: it is usually the only explanation of a failed health check an operator gets.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// How much of a command's standard error is kept (its end).
pub const STDERR_TAIL: usize = 512;
/// How long to wait for the rest of standard error once the command has exited (a
/// grandchild may hold the pipe open).
const STDERR_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum Outcome {
    Exited {
        status: ExitStatus,
        stderr_tail: String,
    },
    TimedOut {
        stderr_tail: String,
    },
}

/// Runs `argv` (program and arguments) and waits at most `timeout` for it.
pub async fn run(
    argv: &[String],
    cwd: &Path,
    envs: &[(&str, String)],
    timeout: Duration,
) -> io::Result<Outcome> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let tail = Arc::new(Mutex::new(Vec::new()));
    let reader = child
        .stderr
        .take()
        .map(|stderr| tokio::spawn(keep_tail(stderr, tail.clone())));
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let finish_tail = || async {
        if let Some(reader) = reader {
            if tokio::time::timeout(STDERR_GRACE, reader).await.is_err() {
                tracing::debug!("command's standard error still open after it exited");
            }
        }
        let bytes = tail.lock().map(|t| t.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim().to_string()
    };
    match waited {
        Ok(status) => {
            let status = status?;
            Ok(Outcome::Exited {
                status,
                stderr_tail: finish_tail().await,
            })
        }
        Err(_elapsed) => {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
                // addresses the process group the child leads (process_group(0) above).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            child.kill().await.ok();
            Ok(Outcome::TimedOut {
                stderr_tail: finish_tail().await,
            })
        }
    }
}

/// Reads `stream` to its end, keeping only its last [`STDERR_TAIL`] bytes in `tail`.
async fn keep_tail(mut stream: impl AsyncRead + Unpin, tail: Arc<Mutex<Vec<u8>>>) {
    let mut buffer = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let Ok(mut tail) = tail.lock() else { break };
        tail.extend_from_slice(&buffer[..n]);
        let excess = tail.len().saturating_sub(STDERR_TAIL);
        tail.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn reports_exit_status_and_passes_environment_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let script = argv(&["sh", "-c", "test \"$OTA_X\" = yes && touch here"]);
        let envs = [("OTA_X", "yes".to_string())];
        let outcome = run(&script, dir.path(), &envs, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Exited { status, .. } if status.success()));
        assert!(dir.path().join("here").exists());
        let outcome = run(&argv(&["false"]), dir.path(), &[], Duration::from_secs(30))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Exited { status, .. } if !status.success()));
    }

    #[tokio::test]
    async fn keeps_the_end_of_standard_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = argv(&[
            "sh",
            "-c",
            "head -c 5000 /dev/zero | tr '\\0' x >&2; echo ' service failed' >&2; exit 3",
        ]);
        let outcome = run(&script, dir.path(), &[], Duration::from_secs(30))
            .await
            .unwrap();
        let Outcome::Exited {
            status,
            stderr_tail,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(status.code(), Some(3));
        assert!(stderr_tail.ends_with("service failed"), "{stderr_tail:?}");
        assert!(stderr_tail.len() <= STDERR_TAIL);
    }

    #[tokio::test]
    async fn a_missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = argv(&["/nonexistent/health-check"]);
        assert!(
            run(&missing, dir.path(), &[], Duration::from_secs(5))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        // The grandchild would create `late` if it survived the kill.
        let script = argv(&["sh", "-c", "(sleep 2; touch late) & sleep 60"]);
        let outcome = run(&script, dir.path(), &[], Duration::from_millis(300))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::TimedOut { .. }));
        std::thread::sleep(Duration::from_secs(3));
        assert!(!dir.path().join("late").exists(), "grandchild survived");
    }
}
