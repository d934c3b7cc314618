//! The Python interpreter with python-tuf that the interop tests run: `OTA_INTEROP_PYTHON`
//! if set, else `<workspace>/target/interop-venv`, made on first use from
//! `tests/interop/requirements.txt`. Test threads and test processes run in parallel, so
//! the venv is made under an exclusive lock file and everyone else waits for it.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::process::{Finished, run, workspace_root};

const CHECK_DEADLINE: Duration = Duration::from_secs(60);
const VENV_DEADLINE: Duration = Duration::from_secs(120);
const PIP_DEADLINE: Duration = Duration::from_secs(600);
/// How long a waiter waits for another process to finish the venv.
const LOCK_WAIT: Duration = Duration::from_secs(900);
/// A lock file that never got its owner's pid written is left over from a crash.
const EMPTY_LOCK_STALE_AFTER: Duration = Duration::from_secs(30);

/// The interpreter to run `tests/interop/*.py` with (found or made once per process).
pub fn interpreter() -> PathBuf {
    static INTERPRETER: OnceLock<PathBuf> = OnceLock::new();
    INTERPRETER.get_or_init(find_or_make).clone()
}

/// A command running `tests/interop/<script>` with the interop interpreter.
pub fn script(script: &str) -> Command {
    let mut command = Command::new(interpreter());
    command.arg(interop_dir().join(script));
    command
}

/// `tests/interop/`: the Python scripts and their requirements.
pub fn interop_dir() -> PathBuf {
    workspace_root().join("tests").join("interop")
}

fn venv_dir() -> PathBuf {
    workspace_root().join("target").join("interop-venv")
}

fn by_hand() -> String {
    format!(
        "To make it by hand, from {root}:\n  \
         rm -rf target/interop-venv && python3 -m venv target/interop-venv && \
         target/interop-venv/bin/python -m pip install -r tests/interop/requirements.txt\n\
         or set OTA_INTEROP_PYTHON to a python3 that has the packages in \
         tests/interop/requirements.txt.",
        root = workspace_root().display()
    )
}

fn find_or_make() -> PathBuf {
    if let Some(python) = std::env::var_os("OTA_INTEROP_PYTHON") {
        let python = PathBuf::from(python);
        assert!(
            has_tuf(&python),
            "OTA_INTEROP_PYTHON={} cannot import tuf and securesystemslib.\n{}",
            python.display(),
            by_hand()
        );
        return python;
    }
    let python = venv_dir().join("bin").join("python");
    if has_tuf(&python) {
        return python;
    }
    let _lock = VenvLock::acquire(&venv_dir().with_extension("lock"));
    // Another process may have made it while this one waited for the lock.
    if !has_tuf(&python) {
        make_venv(&venv_dir());
        assert!(
            has_tuf(&python),
            "the new venv {} still cannot import tuf.\n{}",
            venv_dir().display(),
            by_hand()
        );
    }
    python
}

fn has_tuf(python: &Path) -> bool {
    if !python.exists() {
        return false;
    }
    let mut check = Command::new(python);
    check.args([
        "-c",
        "import tuf.ngclient, tuf.api.metadata, securesystemslib.signer, cryptography",
    ]);
    run(check, CHECK_DEADLINE).success()
}

fn make_venv(venv: &Path) {
    eprintln!(
        "making {} for the interop tests (python-tuf from PyPI)",
        venv.display()
    );
    if venv.exists() {
        std::fs::remove_dir_all(venv)
            .unwrap_or_else(|e| panic!("cannot remove the broken {}: {e}", venv.display()));
    }
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).expect("target directory");
    }
    if Command::new("python3").arg("--version").output().is_err() {
        panic!(
            "python3 is not on PATH; the interop tests need it.\n{}",
            by_hand()
        );
    }
    let mut create = Command::new("python3");
    create.args([OsStr::new("-m"), OsStr::new("venv"), venv.as_os_str()]);
    must_succeed(run(create, VENV_DEADLINE), "python3 -m venv");
    let mut install = Command::new(venv.join("bin").join("python"));
    install
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(interop_dir().join("requirements.txt"));
    must_succeed(run(install, PIP_DEADLINE), "pip install");
}

fn must_succeed(finished: Finished, what: &str) {
    assert!(
        finished.success(),
        "{what} failed ({}) while making the interop venv:\n{}\n{}\n{}",
        finished.status,
        finished.stdout,
        finished.stderr,
        by_hand()
    );
}

/// An exclusive lock file holding its owner's pid; removed when dropped. A lock whose
/// owner died (no such pid) is taken over.
struct VenvLock {
    path: PathBuf,
}

impl VenvLock {
    fn acquire(path: &Path) -> VenvLock {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("lock directory");
        }
        let start = Instant::now();
        loop {
            match std::fs::File::create_new(path) {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return VenvLock {
                        path: path.to_path_buf(),
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if owner_is_gone(path) {
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                }
                Err(e) => panic!("cannot create {}: {e}\n{}", path.display(), by_hand()),
            }
            assert!(
                start.elapsed() < LOCK_WAIT,
                "waited {LOCK_WAIT:?} for {} (another test making the interop venv); \
                 remove it if no test is running.\n{}",
                path.display(),
                by_hand()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for VenvLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn owner_is_gone(lock: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return false; // removed meanwhile: the next create_new tells
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => std::fs::metadata(lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > EMPTY_LOCK_STALE_AFTER),
    }
}
