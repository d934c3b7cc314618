//! `ota demo` end to end with the real `update-server` and `update-client` (a small fleet
//! and small images). It needs those binaries built next to `ota`, which the README's test
//! command (`cargo build --workspace --bins && cargo test --workspace`) does.

use std::path::PathBuf;

use tools::demo::{self, DemoOptions};

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_updates_and_the_broken_device_rolls_back() {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_ota"))
        .parent()
        .unwrap()
        .to_path_buf();
    for binary in ["update-server", "update-client"] {
        assert!(
            bin_dir.join(binary).exists(),
            "{binary} is missing in {}: run `cargo build --workspace --bins` first",
            bin_dir.display()
        );
    }
    let outcome = demo::run(&DemoOptions {
        devices: 8,
        image_size: 1024 * 1024,
        keep: false,
        keys_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../keys-example")),
        bin_dir,
    })
    .await
    .unwrap();
    assert_eq!(outcome.problems, Vec::<String>::new());
    assert!(outcome.kept_dir.is_none());
}
