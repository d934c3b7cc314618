//! The post-boot health check that decides whether a new slot is committed.
//!
//! The configured command gets `OTA_BOOT_SLOT`, `OTA_TARGET` and `OTA_VERSION` in its
//! environment; exit status 0 means healthy. No command means always healthy. A command
//! that cannot start, fails, or outlives its timeout (it is then killed) means unhealthy.

use std::path::Path;

use crate::command::{self, Outcome};
use crate::config::HealthCheckConfig;

/// The verdict, with the reason for an unhealthy one (it is reported to the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy(String),
}

/// What the health check is told about the boot it judges.
#[derive(Debug, Clone)]
pub struct BootUnderTest<'a> {
    pub slot: update_core::api::Slot,
    pub target_name: &'a str,
    pub version: &'a semver::Version,
}

/// Runs the configured commands in order and stops at the first that fails. Reaching the
/// server (`reach_server`) is the agent's part, since it needs the agent's identity.
pub async fn check(config: &HealthCheckConfig, cwd: &Path, boot: &BootUnderTest<'_>) -> Health {
    let envs = [
        ("OTA_BOOT_SLOT", boot.slot.to_string()),
        ("OTA_TARGET", boot.target_name.to_string()),
        ("OTA_VERSION", boot.version.to_string()),
    ];
    for argv in &config.commands {
        let program = argv.first().map(String::as_str).unwrap_or_default();
        let verdict = match command::run(argv, cwd, &envs, config.timeout).await {
            Ok(Outcome::Exited { status, .. }) if status.success() => continue,
            Ok(Outcome::Exited {
                status,
                stderr_tail,
            }) => with_output(
                format!("health check failed ({program}: {status})"),
                &stderr_tail,
            ),
            Ok(Outcome::TimedOut { stderr_tail }) => with_output(
                format!(
                    "health check timed out ({program} after {})",
                    humantime::format_duration(config.timeout)
                ),
                &stderr_tail,
            ),
            Err(e) => format!("health check could not run ({program}: {e})"),
        };
        return Health::Unhealthy(verdict);
    }
    Health::Healthy
}

/// Appends what the check printed last, on one line, so the reason explains itself.
fn with_output(reason: String, stderr_tail: &str) -> String {
    let output: String = stderr_tail.split_whitespace().collect::<Vec<_>>().join(" ");
    if output.is_empty() {
        reason
    } else {
        format!("{reason}: {output}")
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_command_must_pass_and_the_first_failure_is_named() {
        let mut config = config(Some(&["true"]), Duration::from_secs(30));
        config.commands.push(vec![
            "sh".into(),
            "-c".into(),
            "echo disk full >&2; exit 1".into(),
        ]);
        config.commands.push(vec!["/nonexistent/never-run".into()]);
        let Health::Unhealthy(reason) = run(&config).await else {
            panic!("must be unhealthy")
        };
        assert!(
            reason.contains("health check failed (sh") && reason.contains("disk full"),
            "{reason}"
        );
        config.commands.truncate(1);
        assert_eq!(run(&config).await, Health::Healthy);
    }

    use std::time::Duration;

    use update_core::api::Slot;

    use super::*;

    fn config(command: Option<&[&str]>, timeout: Duration) -> HealthCheckConfig {
        HealthCheckConfig {
            commands: command
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .into_iter()
                .collect(),
            timeout,
            reach_server: false,
        }
    }

    async fn run(config: &HealthCheckConfig) -> Health {
        let version = semver::Version::new(1, 1, 0);
        let boot = BootUnderTest {
            slot: Slot::B,
            target_name: "camera-1.1.0.img",
            version: &version,
        };
        check(config, Path::new("."), &boot).await
    }

    #[tokio::test]
    async fn no_command_is_healthy() {
        assert_eq!(
            run(&config(None, Duration::from_secs(1))).await,
            Health::Healthy
        );
    }

    #[tokio::test]
    async fn exit_status_decides_and_the_boot_is_described() {
        let ok = ["sh", "-c", "test \"$OTA_BOOT_SLOT/$OTA_VERSION\" = B/1.1.0"];
        assert_eq!(
            run(&config(Some(&ok), Duration::from_secs(30))).await,
            Health::Healthy
        );
        let bad = ["sh", "-c", "exit 3"];
        let verdict = run(&config(Some(&bad), Duration::from_secs(30))).await;
        assert!(matches!(verdict, Health::Unhealthy(r) if r.contains("failed")));
    }

    #[tokio::test]
    async fn a_hanging_check_times_out_as_unhealthy() {
        let hang = ["sleep", "60"];
        let verdict = run(&config(Some(&hang), Duration::from_millis(200))).await;
        assert!(matches!(verdict, Health::Unhealthy(r) if r.contains("timed out")));
    }
}
