//! Target files: where the repository serves them, the append-only download of the
//! conformance client (over the resumable download of [`resume`]), and the
//! artifact cache.

use std::path::Path;

use reqwest::Url;
use update_core::hash::{HashVerifier, STREAM_BUFFER};
use update_core::layout::{consistent_target_path, url_path};
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use super::Updater;
use crate::error::{Error, Result};

mod resume;

pub use resume::{Kept, TargetSink};

impl Updater {
    /// Where the repository serves `target_path`: with consistent snapshots, under the
    /// hash-prefixed name (sha256 when listed, else the first hash).
    pub fn target_url(
        &self,
        trusted: &TrustedMetadata,
        target_path: &str,
        target: &TargetFile,
    ) -> Result<Url> {
        let path = if trusted.root().consistent_snapshot {
            let hash = target
                .hashes
                .get("sha256")
                .or_else(|| target.hashes.values().next())
                .ok_or_else(|| update_core::Error::MissingHash {
                    what: target_path.to_string(),
                })?;
            consistent_target_path(target_path, hash)
        } else {
            target_path.to_string()
        };
        crate::fetch::join_url(&self.targets_url, &format!("/{}", url_path(&path)))
    }

    /// Streams a target into `sink`, never more than its signed length, then checks the
    /// length and every signed hash we know. Dropped connections are resumed with HTTP
    /// ranges ([`Updater::download_resumable`]); `sink` cannot start over, so a server
    /// that answers a range with the whole file fails the download. On failure the sink
    /// has received unverified bytes: the caller must discard what it wrote. Returns the
    /// bytes received.
    pub async fn download_target<F>(
        &self,
        url: &Url,
        target_path: &str,
        target: &TargetFile,
        sink: F,
    ) -> Result<u64>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        let mut sink = AppendOnly {
            write: sink,
            written: 0,
            validator: None,
        };
        self.download_resumable(url, target_path, target, &mut sink)
            .await?;
        Ok(sink.written)
    }
}

/// A [`TargetSink`] over a function that can only append.
struct AppendOnly<F> {
    write: F,
    written: u64,
    validator: Option<String>,
}

impl<F: FnMut(&[u8]) -> Result<()>> TargetSink for AppendOnly<F> {
    fn resume(&mut self, _hash: &mut dyn FnMut(&[u8])) -> Result<Kept> {
        Ok(Kept::Nothing)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        (self.write)(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        if self.written == 0 {
            return Ok(());
        }
        Err(Error::BadResponse {
            url: "(target download)".into(),
            reason: "the server restarted the download from its start".into(),
        })
    }

    fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    fn set_validator(&mut self, validator: Option<&str>) {
        self.validator = validator.map(str::to_string);
    }
}

/// Whether `file` already holds exactly `target` (signed length and hashes), so it need
/// not be downloaded again.
pub fn is_cached(file: &Path, target: &TargetFile) -> bool {
    use std::io::Read;
    let Ok(metadata) = std::fs::metadata(file) else {
        return false;
    };
    if !metadata.is_file() || metadata.len() != target.length {
        return false;
    }
    let Ok(mut reader) = std::fs::File::open(file) else {
        return false;
    };
    let mut verifier = HashVerifier::new(&target.hashes);
    let mut buffer = vec![0u8; STREAM_BUFFER];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return verifier.verify("cached target").is_ok(),
            Ok(n) => verifier.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A firmware target's signed sha256, which every firmware target must carry (the slot
/// image is identified and re-verified by it).
pub fn signed_sha256<'a>(target_name: &str, target: &'a TargetFile) -> Result<&'a str> {
    let sha256 = target
        .sha256()
        .ok_or_else(|| update_core::Error::MissingHash {
            what: target_name.to_string(),
        })?;
    let well_formed = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::Metadata(update_core::Error::InvalidMetadata(
            format!("target {target_name} has a malformed sha256"),
        )));
    }
    Ok(sha256)
}
