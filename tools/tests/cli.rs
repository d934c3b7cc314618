//! The `ota` binary itself: messages and exit statuses of misuse.

use std::process::{Command, Output};

fn ota(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ota"))
        .args(args)
        .env_remove("OTA_ADMIN_TOKEN")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn keygen_prints_the_key_id_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.pem");
    let out_arg = out.to_str().unwrap();
    let first = ota(&["keygen", out_arg]);
    assert!(first.status.success(), "{}", stderr(&first));
    let key_id = String::from_utf8(first.stdout).unwrap();
    assert_eq!(key_id.trim().len(), 64);

    let second = ota(&["keygen", out_arg]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("already exists"),
        "{}",
        stderr(&second)
    );
}

#[test]
fn a_missing_key_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let output = ota(&[
        "repo",
        "init",
        "--repo",
        repo.to_str().unwrap(),
        "--root-key",
        "/nonexistent/root.pem",
        "--targets-key",
        "/nonexistent/t.pub",
        "--snapshot-key",
        "/nonexistent/s.pub",
        "--timestamp-key",
        "/nonexistent/ts.pub",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/nonexistent/root.pem"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn publish_to_an_unreachable_server_exits_1_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = ota(&[
        "publish",
        "--repo",
        dir.path().to_str().unwrap(),
        "--server",
        &url,
        "--token",
        "t",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("cannot reach the server at {url}")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_admin_token_is_a_misuse_with_exit_1() {
    let output = ota(&["status", "--server", "http://127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--token"), "{}", stderr(&output));
}

#[test]
fn help_is_not_an_error() {
    let output = ota(&["--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("publish"));
}
