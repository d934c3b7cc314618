//! The TUF client under test, driven through the tuf-conformance suite's command-line
//! protocol (`init`, `refresh`, `download`): `tuf-client` of this build, or the command line
//! in `OTA_TUF_CLIENT` (split on spaces), e.g. python-tuf's conformance client.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{Finished, bin, run};

/// Long enough for a debug build on a loaded 2-core machine; a hung client fails the test.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// The client command line: `OTA_TUF_CLIENT` if set, else `tuf-client`.
pub fn client_command() -> Vec<OsString> {
    match std::env::var("OTA_TUF_CLIENT") {
        Ok(line) if !line.trim().is_empty() => {
            line.split_whitespace().map(OsString::from).collect()
        }
        _ => vec![bin("tuf-client").into_os_string()],
    }
}

/// One client's trusted state: its metadata directory.
pub struct TufClient {
    command: Vec<OsString>,
    pub metadata_dir: PathBuf,
}

impl TufClient {
    /// A client keeping its trusted metadata in `metadata_dir` (created if missing).
    pub fn new(metadata_dir: &Path) -> TufClient {
        std::fs::create_dir_all(metadata_dir).expect("client metadata dir");
        TufClient {
            command: client_command(),
            metadata_dir: metadata_dir.to_path_buf(),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .arg("--metadata-dir")
            .arg(&self.metadata_dir);
        command
    }

    /// `init ROOT_FILE`: trust `root` as the initial root.
    pub fn init(&self, root: &Path) -> Finished {
        let mut command = self.command();
        command.arg("init").arg(root);
        run(command, CLIENT_DEADLINE)
    }

    /// `refresh`: the top-level roles from `metadata_url`.
    pub fn refresh(&self, metadata_url: &str) -> Finished {
        let mut command = self.command();
        command.args(["--metadata-url", metadata_url, "refresh"]);
        run(command, CLIENT_DEADLINE)
    }

    /// `download`: refresh, then each target in order into `target_dir`.
    pub fn download(
        &self,
        metadata_url: &str,
        target_names: &[&str],
        target_base_url: &str,
        target_dir: &Path,
    ) -> Finished {
        std::fs::create_dir_all(target_dir).expect("client target dir");
        let mut command = self.command();
        command.args(["--metadata-url", metadata_url]);
        for name in target_names {
            command.args(["--target-name", name]);
        }
        command
            .args(["--target-base-url", target_base_url, "--target-dir"])
            .arg(target_dir)
            .arg("download");
        run(command, CLIENT_DEADLINE)
    }

    /// A trusted metadata file as JSON, by its file name in the metadata directory.
    pub fn trusted(&self, file: &str) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.metadata_dir.join(file)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The `signed.version` of a trusted metadata file.
    pub fn trusted_version(&self, file: &str) -> Option<u64> {
        self.trusted(file)?["signed"]["version"].as_u64()
    }
}

/// Every regular file under `dir` (any depth) with its bytes: clients may store
/// downloaded targets under any name they like.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else if path.is_file() {
            let bytes = std::fs::read(&path).expect("read downloaded file");
            files.push((path, bytes));
        }
    }
    files.sort();
    files
}
