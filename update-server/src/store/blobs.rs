//! Content-addressed files, `DATA/blobs/sha256/HEX`: images and metadata files.
//!
//! A blob is streamed into a temporary file in the same directory while it is hashed,
//! fsynced, and renamed to its hash only if the hash is the expected one; then the
//! directory is fsynced. A crash or an aborted upload leaves at most a temporary file,
//! removed when the store next opens, never a wrong blob under a hash.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use futures_util::{Stream, StreamExt, stream};
use tokio::io::{AsyncWriteExt, BufWriter};
use update_core::hash::{STREAM_BUFFER, StreamHasher, sha256_hex};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TEMP_PREFIX: &str = ".upload-";

/// A sha256 as 64 lowercase hex digits: safe to use as a file name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    /// Accepts 64 hex digits in either case.
    pub fn parse(text: &str) -> Result<BlobId, BlobError> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(BlobId(text.to_ascii_lowercase()))
        } else {
            Err(BlobError::InvalidHash(text.chars().take(80).collect()))
        }
    }

    pub fn of_bytes(bytes: &[u8]) -> BlobId {
        BlobId(sha256_hex(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0:?} is not a sha256 (64 hex digits)")]
    InvalidHash(String),
    #[error("the bytes hash to {actual}, not {expected}; nothing was stored")]
    HashMismatch { expected: BlobId, actual: BlobId },
    #[error("more than {limit} bytes; nothing was stored")]
    TooLarge { limit: u64 },
    #[error("the upload failed: {0}")]
    Upload(#[source] BoxError),
    #[error("blob {id} is damaged: its content no longer hashes to its name")]
    Damaged { id: BlobId },
    #[error("blob {id} is missing")]
    Missing { id: BlobId },
    #[error("blob storage I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A blob just stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub id: BlobId,
    pub length: u64,
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Opens `data_dir/blobs/sha256`, creating it, and removes temporary files that a
    /// crash left behind.
    pub async fn open(data_dir: &Path) -> Result<BlobStore, BlobError> {
        let dir = data_dir.join("blobs").join("sha256");
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BlobError::Io { path, source }
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error(&dir))?;
        let mut entries = tokio::fs::read_dir(&dir).await.map_err(io_error(&dir))?;
        while let Some(entry) = entries.next_entry().await.map_err(io_error(&dir))? {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(io_error(&path))?;
            }
        }
        Ok(BlobStore { dir })
    }

    pub fn path(&self, id: &BlobId) -> PathBuf {
        self.dir.join(id.as_str())
    }

    /// The length of a stored blob, `None` if it is not stored.
    pub async fn len(&self, id: &BlobId) -> Result<Option<u64>, BlobError> {
        let path = self.path(id);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }

    /// Stores a small blob held in memory (a metadata file).
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        let body = stream::once(async {
            Ok::<_, std::convert::Infallible>(Bytes::copy_from_slice(bytes))
        });
        self.put_stream(None, u64::MAX, body).await
    }

    /// Streams `body` into the store. Fails, keeping nothing, if it exceeds `limit` bytes
    /// or does not hash to `expected`.
    pub async fn put_stream<S, E>(
        &self,
        expected: Option<&BlobId>,
        limit: u64,
        body: S,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        let dir = self.dir.clone();
        let temp = blocking(&self.dir, move || {
            tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(&dir)
        })
        .await?;
        // Dropping `temp_path` (on error or cancellation) deletes the temporary file.
        let (file, temp_path) = temp.into_parts();
        let io_error = |source| BlobError::Io {
            path: temp_path.to_path_buf(),
            source,
        };
        let mut writer = BufWriter::with_capacity(STREAM_BUFFER, tokio::fs::File::from_std(file));
        let mut hasher = StreamHasher::new();
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Upload(e.into()))?;
            if hasher.length().saturating_add(chunk.len() as u64) > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hasher.update(&chunk);
            writer.write_all(&chunk).await.map_err(io_error)?;
        }
        writer.flush().await.map_err(io_error)?;
        writer.into_inner().sync_all().await.map_err(io_error)?;
        let (length, hex) = hasher.finish();
        let id = BlobId(hex);
        if let Some(expected) = expected {
            if *expected != id {
                return Err(BlobError::HashMismatch {
                    expected: expected.clone(),
                    actual: id,
                });
            }
        }
        let final_path = self.path(&id);
        let dir = self.dir.clone();
        blocking(&self.dir, move || {
            temp_path.persist(&final_path).map_err(|e| e.error)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await?;
        Ok(StoredBlob { id, length })
    }

    /// Reads a blob of at most `max_len` bytes, checking that it still hashes to its name.
    pub async fn read_small(&self, id: &BlobId, max_len: u64) -> Result<Vec<u8>, BlobError> {
        match self.len(id).await? {
            None => return Err(BlobError::Missing { id: id.clone() }),
            Some(len) if len > max_len => return Err(BlobError::TooLarge { limit: max_len }),
            Some(_) => {}
        }
        let path = self.path(id);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| BlobError::Io { path, source })?;
        if BlobId::of_bytes(&bytes) != *id {
            return Err(BlobError::Damaged { id: id.clone() });
        }
        Ok(bytes)
    }
}

/// Runs blocking file-system work off the async workers.
async fn blocking<T: Send + 'static>(
    dir: &Path,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    let io_error = |source| BlobError::Io {
        path: dir.to_path_buf(),
        source,
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| io_error(io::Error::other(e)))?
        .map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn entries(store: &BlobStore) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&store.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn stores_under_its_hash_only_when_expected() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        let id = BlobId::of_bytes(b"hello world");
        let stored = store
            .put_stream(Some(&id), 100, chunks(&[b"hello ", b"world"]))
            .await
            .unwrap();
        assert_eq!(
            stored,
            StoredBlob {
                id: id.clone(),
                length: 11
            }
        );
        assert_eq!(store.read_small(&id, 100).await.unwrap(), b"hello world");

        let wrong = BlobId::of_bytes(b"other");
        let err = store
            .put_stream(Some(&wrong), 100, chunks(&[b"hello"]))
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::HashMismatch { .. }), "{err}");
        let err = store
            .put_stream(None, 4, chunks(&[b"hel", b"lo"]))
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { limit: 4 }), "{err}");
        assert_eq!(entries(&store), vec![id.to_string()]);
    }

    #[tokio::test]
    async fn leftover_temporary_files_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        std::fs::write(store.dir.join(".upload-crashed"), b"partial").unwrap();
        let store = BlobStore::open(dir.path()).await.unwrap();
        assert!(entries(&store).is_empty());
    }

    #[test]
    fn ids_are_lowercase_hex_only() {
        let upper = "AB".repeat(32);
        assert_eq!(BlobId::parse(&upper).unwrap().as_str(), "ab".repeat(32));
        for bad in ["", "../etc/passwd", &"g".repeat(64), &"a".repeat(63)] {
            assert!(BlobId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
