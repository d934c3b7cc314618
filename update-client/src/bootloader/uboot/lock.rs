//! The lock libubootenv's `fw_printenv`/`fw_setenv` take, so the agent and those tools
//! never interleave a read-modify-write of the environment.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// libubootenv's default lock file.
pub const LOCK_FILE: &str = "/var/lock/fw_printenv.lock";

/// An exclusive `flock` on the lock file, released when dropped (the file is closed).
pub struct EnvLock {
    _file: Option<File>,
}

impl EnvLock {
    /// Waits for the lock. Like libubootenv, goes on without it when the lock file cannot
    /// be opened (no `/var/lock`, read-only filesystem): the lock only guards against
    /// concurrent tools, and refusing would leave the device unable to update.
    pub fn acquire(path: &Path) -> EnvLock {
        let file = match OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(path)
        {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(lock = %path.display(), error = %e, "environment not locked");
                return EnvLock { _file: None };
            }
        };
        loop {
            // SAFETY: flock on a descriptor this function owns; no memory is passed.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return EnvLock { _file: Some(file) };
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                tracing::warn!(lock = %path.display(), %error, "environment not locked");
                return EnvLock { _file: None };
            }
        }
    }
}
