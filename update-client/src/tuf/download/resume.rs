//! Resumable target downloads. The bytes go to a [`TargetSink`] that may already hold a
//! prefix from an earlier run; a dropped connection is retried a few times with backoff,
//! each retry continuing with a ranged GET (`crate::fetch::range`). The signed length is
//! a hard limit on the bytes the sink holds, and every signed hash we know is checked
//! over all of them, kept and new alike. A download stitched together from more than one
//! answer (or from a kept prefix) that fails its hashes is started once more from zero
//! before it is refused: the server's copy may have changed under us.
//!
//! One exception to "every signed hash over all bytes": a sink that decodes as it goes
//! (the zstd form) keeps only the decoded image, so after a power cut it cannot hand the
//! target's first bytes back to be hashed ([`Kept::Consumed`]). A download continued
//! after such a prefix is checked for its signed length only, and the sink checks what
//! it decoded against the signed image sha256 before anything uses it.

use std::time::Duration;

use reqwest::Url;
use tracing::warn;
use update_core::hash::HashVerifier;
use update_core::schema::TargetFile;

use crate::error::{Error, Result};
use crate::fetch::{RangedBody, Resume};
use crate::tuf::Updater;

/// Pauses before the retries of a dropped download, within one run. After the last,
/// the error is returned (a durable sink resumes at the next attempt).
const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What a sink holds from an earlier attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Nothing: the download starts at byte 0.
    Nothing,
    /// The target's first N bytes, all passed to `hash`.
    Hashed(u64),
    /// The target's first N bytes were consumed but not kept, so they cannot be hashed;
    /// the sink vouches for what it made of them with a signed hash of its own.
    Consumed(u64),
}

/// Where a downloading target's bytes go.
pub trait TargetSink {
    /// Reports what is kept from an earlier attempt (feeding kept bytes to `hash`): the
    /// download continues after it. A sink that finds its kept bytes damaged starts over
    /// itself and returns [`Kept::Nothing`].
    fn resume(&mut self, hash: &mut dyn FnMut(&[u8])) -> Result<Kept>;

    /// Takes the next bytes of the target.
    fn write(&mut self, bytes: &[u8]) -> Result<()>;

    /// Drops everything taken so far: the next write is byte 0 again.
    fn restart(&mut self) -> Result<()>;

    /// The validator (ETag or Last-Modified) of the server's copy the bytes held came
    /// from.
    fn validator(&self) -> Option<&str>;

    fn set_validator(&mut self, validator: Option<&str>);
}

/// How far a download got.
struct Progress<'t> {
    verifier: HashVerifier<'t>,
    offset: u64,
    /// The bytes held did not all come in one answer from byte 0.
    stitched: bool,
    /// The bytes held start with a prefix the sink could not hash ([`Kept::Consumed`]).
    unhashed_prefix: bool,
}

impl<'t> Progress<'t> {
    fn fresh(target: &'t TargetFile) -> Self {
        Progress {
            verifier: HashVerifier::new(&target.hashes),
            offset: 0,
            stitched: false,
            unhashed_prefix: false,
        }
    }

    /// Hashes what the sink kept from an earlier run.
    fn resume(target: &'t TargetFile, sink: &mut dyn TargetSink) -> Result<Self> {
        let mut verifier = HashVerifier::new(&target.hashes);
        let (held, unhashed_prefix) = match sink.resume(&mut |bytes| verifier.update(bytes))? {
            Kept::Nothing | Kept::Hashed(0) | Kept::Consumed(0) => {
                return Ok(Progress::fresh(target));
            }
            Kept::Hashed(held) => (held, false),
            Kept::Consumed(held) => (held, true),
        };
        if held > target.length {
            sink.restart()?;
            return Ok(Progress::fresh(target));
        }
        Ok(Progress {
            verifier,
            offset: held,
            stitched: true,
            unhashed_prefix,
        })
    }

    fn restart(&mut self, target: &'t TargetFile, sink: &mut dyn TargetSink) -> Result<()> {
        sink.restart()?;
        *self = Progress::fresh(target);
        Ok(())
    }
}

impl Updater {
    /// Downloads `target` from `url` into `sink`, continuing after what the sink kept.
    /// On failure the sink holds unverified bytes; a network error (after the retries)
    /// leaves them resumable. After a [`Kept::Consumed`] prefix only the signed length is
    /// checked here (module doc).
    pub async fn download_resumable(
        &self,
        url: &Url,
        target_path: &str,
        target: &TargetFile,
        sink: &mut dyn TargetSink,
    ) -> Result<()> {
        let mut progress = Progress::resume(target, sink)?;
        let mut retries = RETRY_DELAYS.iter();
        let mut started_over = false;
        loop {
            match self
                .attempt(url, target_path, target, &mut progress, sink)
                .await
            {
                Ok(()) => {}
                Err(e) if is_dropped_connection(&e) => {
                    let Some(delay) = retries.next() else {
                        return Err(e);
                    };
                    warn!(%url, offset = progress.offset, ?delay, "download interrupted, resuming: {e}");
                    tokio::time::sleep(*delay).await;
                    continue;
                }
                Err(e) => return Err(e),
            }
            if progress.unhashed_prefix {
                // The signed length was enforced; the sink checks the decoded image.
                return Ok(());
            }
            let verifier =
                std::mem::replace(&mut progress.verifier, HashVerifier::new(&target.hashes));
            match verifier.verify(target_path) {
                Ok(()) => return Ok(()),
                Err(e) if progress.stitched && !started_over => {
                    warn!(
                        "resumed download of {target_path} failed its check ({e}): downloading it again from the start"
                    );
                    started_over = true;
                    progress.restart(target, sink)?;
                }
                Err(e) => {
                    return Err(Error::TargetMismatch {
                        what: target_path.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// One GET for the bytes still missing, streamed into the sink.
    async fn attempt<'t>(
        &self,
        url: &Url,
        target_path: &str,
        target: &'t TargetFile,
        progress: &mut Progress<'t>,
        sink: &mut dyn TargetSink,
    ) -> Result<()> {
        if progress.offset == target.length {
            return Ok(());
        }
        let validator = sink.validator().map(str::to_string);
        let resume = Resume {
            offset: progress.offset,
            validator: validator.as_deref(),
        };
        let RangedBody {
            start,
            validator,
            mut body,
        } = self.http.get_from(url, target.length, resume).await?;
        if start != progress.offset {
            progress.restart(target, sink)?;
        } else if start > 0 {
            progress.stitched = true;
        }
        sink.set_validator(validator.as_deref());
        while let Some(chunk) = body.chunk().await? {
            let chunk = chunk.as_ref();
            sink.write(chunk)?;
            progress.verifier.update(chunk);
            progress.offset += chunk.len() as u64;
        }
        if progress.offset != target.length {
            return Err(Error::TargetMismatch {
                what: target_path.to_string(),
                reason: format!(
                    "received {} bytes, signed length is {}",
                    progress.offset, target.length
                ),
            });
        }
        Ok(())
    }
}

/// Failures a retry of the same request may cure: the connection broke or timed out, or
/// the server is overloaded.
fn is_dropped_connection(error: &Error) -> bool {
    match error {
        Error::Transport { .. } => true,
        Error::HttpStatus { status, .. } => *status >= 500 || matches!(status, 408 | 429),
        _ => false,
    }
}
