//! The `update-server` binary's contract with the other tools: the token it prints, the
//! one stdout line once it listens, exit 0 on SIGTERM and exit 1 on a bad start.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Keys, write_config};

const BINARY: &str = env!("CARGO_BIN_EXE_update-server");

fn serve_command(config: &update_server::ServerConfig) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(&config.data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .arg("--root")
        .arg(config.root.as_ref().unwrap())
        .arg("--snapshot-key")
        .arg(&config.snapshot_key)
        .arg("--timestamp-key")
        .arg(&config.timestamp_key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test]
async fn binary_prints_token_and_listen_line_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate();
    let config = write_config(dir.path(), &keys, &keys.root());

    let output = Command::new(BINARY)
        .args(["admin-token", "create", "--data-dir"])
        .arg(&config.data_dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap();
    let token = token.strip_suffix('\n').unwrap();
    assert!(update_server::token::is_well_formed(token), "{token:?}");

    let mut child = serve_command(&config).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .strip_prefix("update-server listening on http://")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr: std::net::SocketAddr = url.parse().unwrap();
    assert_ne!(addr.port(), 0);

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let status = client
        .get(format!("http://{addr}/api/v1/admin/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), reqwest::StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "only one line on stdout");
}

#[test]
fn binary_exits_1_with_a_clear_error_for_an_unauthorised_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate();
    let mut config = write_config(dir.path(), &keys, &keys.root());
    let stranger = dir.path().join("stranger.pem");
    std::fs::write(
        &stranger,
        Keys::generate().snapshot.to_pkcs8_pem().unwrap().as_bytes(),
    )
    .unwrap();
    config.snapshot_key = stranger;

    let output = serve_command(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("snapshot key"), "{stderr}");
}
