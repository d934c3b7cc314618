//! Running the configured external commands (health check, reboot) with a time limit.
//!
//! A command runs in its own process group, in the config file's directory, with no
//! standard input. On timeout the whole group is killed, so a shell script's children
//! cannot linger and hold the agent's output open.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;

#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    TimedOut,
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
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => Ok(Outcome::Exited(status?)),
        Err(_elapsed) => {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
                // addresses the process group the child leads (process_group(0) above).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            child.kill().await.ok();
            Ok(Outcome::TimedOut)
        }
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
        assert!(matches!(outcome, Outcome::Exited(s) if s.success()));
        assert!(dir.path().join("here").exists());
        let outcome = run(&argv(&["false"]), dir.path(), &[], Duration::from_secs(30))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Exited(s) if !s.success()));
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
        assert!(matches!(outcome, Outcome::TimedOut));
        std::thread::sleep(Duration::from_secs(3));
        assert!(!dir.path().join("late").exists(), "grandchild survived");
    }
}
