//! Config parsing: the documented example, defaults, path resolution and refusals.

use super::*;

const EXAMPLE: &str = r#"
[device]
id = "dev-001"
class = "camera"
hardware_id = "cam-v2"

[server]
url = "http://127.0.0.1:8080"
poll_interval = "5m"
timeout = "30s"
allow_plain_http = true

[trust]
root = "/etc/ota/root.json"
metadata_dir = "state/metadata"
max_metadata_size = 1048576

[state]
dir = "state"

[firmware]
version = "1.0.0"
factory_image_length = 33554432

[slots]
a = "/dev/mmcblk0p2"
b = "slot-b.img"

[bootloader]
backend = "simulated"
dir = "sim-boot"
boot_limit = 2

[reboot]
command = ["touch", "sim-boot/reboot-requested"]

[health_check]
commands = [["/usr/libexec/ota/health-check"], ["systemctl", "is-system-running", "--wait"]]
timeout = "60s"
reach_server = true
"#;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("/cfg"))
}

#[test]
fn documented_example_parses_with_resolved_paths() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.trust.root, Path::new("/etc/ota/root.json"));
    assert_eq!(config.trust.metadata_dir, Path::new("/cfg/state/metadata"));
    assert_eq!(config.slots.a, Path::new("/dev/mmcblk0p2"));
    assert_eq!(config.slots.b, Path::new("/cfg/slot-b.img"));
    let BootloaderConfig::Simulated(simulated) = &config.bootloader else {
        panic!("simulated backend expected: {:?}", config.bootloader)
    };
    assert_eq!(simulated.dir, Path::new("/cfg/sim-boot"));
    assert_eq!(config.server.poll_interval, Duration::from_secs(300));
    assert_eq!(config.server.repository_url(), &config.server.url);
    assert_eq!(config.firmware.factory_image_length, Some(33_554_432));
    assert_eq!(config.bootloader.boot_limit(), 2);
    assert_eq!(config.health_check.timeout, Duration::from_secs(60));
    assert_eq!(config.health_check.commands.len(), 2);
    assert!(config.health_check.reach_server);
}

#[test]
fn optional_sections_and_keys_take_defaults() {
    let text = EXAMPLE
        .replace("poll_interval = \"5m\"\n", "")
        .replace("timeout = \"30s\"\n", "")
        .replace("max_metadata_size = 1048576\n", "")
        .replace("boot_limit = 2\n", "")
        .replace(
            "[health_check]\ncommands = [[\"/usr/libexec/ota/health-check\"], [\"systemctl\", \"is-system-running\", \"--wait\"]]\ntimeout = \"60s\"\nreach_server = true\n",
            "",
        );
    let config = parse(&text).unwrap();
    assert_eq!(config.server.timeout, Duration::from_secs(30));
    assert_eq!(config.trust.max_metadata_size, 1024 * 1024);
    assert_eq!(config.bootloader.boot_limit(), 1);
    assert!(config.health_check.commands.is_empty());
    assert!(!config.health_check.reach_server);
    let payload = &config.payload;
    assert!(payload.delta && payload.zstd);
    assert_eq!(payload.delta_memory, DEFAULT_DELTA_MEMORY);
    assert_eq!(payload.max_delta_spool, DEFAULT_MAX_DELTA_SPOOL);
    assert_eq!(payload.spool_dir, Path::new("/cfg/state/download"));
}

#[test]
fn the_payload_section_sets_forms_and_delta_bounds() {
    let text = format!(
        "{EXAMPLE}\n[payload]\ndelta = false\nzstd = false\ndelta_memory = 4194304\nspool_dir = \"/var/spool/ota\"\nmax_delta_spool = 1000\n"
    );
    let payload = parse(&text).unwrap().payload;
    assert!(!payload.delta && !payload.zstd);
    assert_eq!(payload.delta_memory, 4 << 20);
    assert_eq!(payload.spool_dir, Path::new("/var/spool/ota"));
    assert_eq!(payload.max_delta_spool, 1000);
    let relative = parse(&format!("{EXAMPLE}\n[payload]\nspool_dir = \"spool\"\n")).unwrap();
    assert_eq!(relative.payload.spool_dir, Path::new("/cfg/spool"));
    for (extra, needle) in [
        ("deltas = true", "deltas"),
        ("delta_memory = 0", "delta_memory"),
        ("max_delta_spool = -1", "max_delta_spool"),
    ] {
        let err = parse(&format!("{EXAMPLE}\n[payload]\n{extra}\n")).unwrap_err();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

#[test]
fn unknown_keys_and_bad_values_are_clear_errors() {
    let cases = [
        (EXAMPLE.replace("[state]", "[state]\ntypo = 1"), "typo"),
        (EXAMPLE.replace("\"5m\"", "\"soon\""), "soon"),
        (EXAMPLE.replace("\"simulated\"", "\"grub\""), "grub"),
        (EXAMPLE.replace("\"cam-v2\"", "\"cam v2\""), "hardware_id"),
        (
            EXAMPLE.replace("boot_limit = 2", "boot_limit = 0"),
            "boot_limit",
        ),
        (
            EXAMPLE.replace("http://127.0.0.1:8080", "ftp://x"),
            "server.url",
        ),
        (
            EXAMPLE.replace("\"slot-b.img\"", "\"/dev/mmcblk0p2\""),
            "slots",
        ),
        (
            EXAMPLE.replace("[\"touch\", \"sim-boot/reboot-requested\"]", "[]"),
            "reboot.command",
        ),
    ];
    for (text, needle) in cases {
        let err = parse(&text).unwrap_err();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

#[test]
fn the_device_key_defaults_to_the_state_dir_and_resolves_like_other_paths() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(EXAMPLE, dir.path()).unwrap();
    assert_eq!(
        config.device_key_file(),
        config.state.dir.join("device.key")
    );
    assert_eq!(config.device.enrollment_secret_file, None);
    let with_files = EXAMPLE.replace(
        "hardware_id = \"cam-v2\"\n",
        "hardware_id = \"cam-v2\"\nkey_file = \"k.pem\"\nenrollment_secret_file = \"/etc/s\"\n",
    );
    let config = Config::parse(&with_files, dir.path()).unwrap();
    assert_eq!(config.device_key_file(), dir.path().join("k.pem"));
    assert_eq!(
        config.device.enrollment_secret_file.as_deref(),
        Some(Path::new("/etc/s"))
    );
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.state.dir, dir.path().join("state"));
    std::fs::write(&path, "[device]\n").unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("client.toml"), "{err}");
}

#[test]
fn uboot_and_grub_sections_parse_with_their_own_fields_only() {
    let uboot = EXAMPLE.replace(
        "backend = \"simulated\"\ndir = \"sim-boot\"",
        "backend = \"uboot\"\nenv_config = \"fw_env.config\"\nredundant_flags = \"boolean\"",
    );
    let config = Config::parse(&uboot, Path::new("/cfg")).unwrap();
    let BootloaderConfig::Uboot(c) = &config.bootloader else {
        panic!("{:?}", config.bootloader)
    };
    assert_eq!(c.env_config, Path::new("/cfg/fw_env.config"));
    assert_eq!(c.redundant_flags, RedundantFlags::Boolean);
    assert_eq!(c.cmdline, Path::new("/proc/cmdline"));

    let grub = EXAMPLE.replace(
        "backend = \"simulated\"\ndir = \"sim-boot\"",
        "backend = \"grub\"\ngrubenv = \"/boot/grub/grubenv\"\ncmdline = \"cmdline\"",
    );
    let config = Config::parse(&grub, Path::new("/cfg")).unwrap();
    let BootloaderConfig::Grub(c) = &config.bootloader else {
        panic!("{:?}", config.bootloader)
    };
    assert_eq!(c.grubenv, Path::new("/boot/grub/grubenv"));
    assert_eq!(c.cmdline, Path::new("/cfg/cmdline"));

    let mixed = EXAMPLE.replace("dir = \"sim-boot\"", "dir = \"sim-boot\"\ngrubenv = \"x\"");
    assert!(
        Config::parse(&mixed, Path::new("/cfg")).is_err(),
        "fields of another backend are refused"
    );
}

#[test]
fn plain_http_needs_allow_plain_http() {
    let strict = EXAMPLE.replace("allow_plain_http = true\n", "");
    let err = parse(&strict).unwrap_err();
    assert!(
        err.contains("server.url") && err.contains("allow_plain_http"),
        "{err}"
    );
    let https = strict.replace("http://127.0.0.1:8080", "https://ota.example.com");
    assert!(parse(&https).is_ok());
    let plain_repository = https.replace(
        "timeout = \"30s\"\n",
        "timeout = \"30s\"\nrepository_url = \"http://mirror\"\n",
    );
    let err = parse(&plain_repository).unwrap_err();
    assert!(err.contains("server.repository_url"), "{err}");
}

#[test]
fn tls_trust_settings_parse_and_resolve() {
    let pin = "ab".repeat(32);
    let text = EXAMPLE.replace(
        "allow_plain_http = true\n",
        &format!("allow_plain_http = true\nca_file = \"ca.pem\"\npinned_cert_sha256 = \"{pin}\"\n"),
    );
    let config = parse(&text).unwrap();
    let trust = config.server.trust();
    assert_eq!(trust.ca_file.as_deref(), Some(Path::new("/cfg/ca.pem")));
    assert_eq!(trust.pinned_sha256.unwrap().to_string(), pin);
    let bad = EXAMPLE.replace(
        "allow_plain_http = true\n",
        "allow_plain_http = true\npinned_cert_sha256 = \"not-hex\"\n",
    );
    let err = parse(&bad).unwrap_err();
    assert!(err.contains("pinned"), "{err}");
}
