//! Bulk enrolment straight into a server's database through its own store library
//! (`update_server::store::Store`), for load tests with 100,000 devices: each device
//! gets a random ed25519 key whose public key is stored as the admin API stores it, in
//! batches of one transaction. The devices file lists `device_id class secret` per line,
//! the secret being the 32 bytes the private key is made from, in hex (mode 0600: it
//! holds private keys).

use std::io::{BufRead, Write};
use std::path::Path;

use rand::RngCore;
use update_core::device_auth::DeviceKey;
use update_server::store::{DATABASE_FILE, DeviceIdentity, Store, StoreError};

/// Devices per transaction.
const BATCH: usize = 5_000;
/// Largest devices file read.
const MAX_DEVICES_FILE: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected `device_id class secret` (secret: 64 hex digits)")]
    Malformed { path: String, line: usize },
    #[error("{path}: larger than {MAX_DEVICES_FILE} bytes")]
    TooLarge { path: String },
}

/// One enrolled device and the secret its key is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededDevice {
    pub device_id: String,
    pub class: String,
    pub secret: [u8; 32],
}

impl SeededDevice {
    pub fn key(&self) -> DeviceKey {
        DeviceKey::from_secret_bytes(&self.secret)
    }
}

/// Enrols `ids` in `class` into the database of `data_dir` and writes the devices file.
pub async fn seed(
    data_dir: &Path,
    class: &str,
    ids: impl Iterator<Item = String>,
    devices_file: &Path,
) -> Result<usize, SeedError> {
    std::fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
    let store = Store::open(&data_dir.join(DATABASE_FILE)).await?;
    let mut out = create_private(devices_file)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Vec::with_capacity(BATCH);
    let mut total = 0;
    let mut ids = ids.peekable();
    while ids.peek().is_some() {
        for device_id in ids.by_ref().take(BATCH) {
            let mut secret = zeroize::Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(&mut secret[..]);
            let public_key = DeviceKey::from_secret_bytes(&secret).public_key_hex();
            lines.push(format!(
                "{device_id} {class} {}\n",
                hex::encode(&secret[..])
            ));
            let identity = DeviceIdentity {
                device_id,
                class: class.to_string(),
            };
            batch.push((identity, public_key));
        }
        store.enroll_devices(&batch).await?;
        for line in lines.drain(..) {
            out.write_all(line.as_bytes())
                .map_err(io_error(devices_file))?;
        }
        total += batch.len();
        batch.clear();
    }
    out.flush().map_err(io_error(devices_file))?;
    Ok(total)
}

/// Reads a devices file written by [`seed`].
pub fn read_devices_file(path: &Path) -> Result<Vec<SeededDevice>, SeedError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let size = file.metadata().map_err(io_error(path))?.len();
    if size > MAX_DEVICES_FILE {
        return Err(SeedError::TooLarge {
            path: path.display().to_string(),
        });
    }
    let mut devices = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_error(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let malformed = || SeedError::Malformed {
            path: path.display().to_string(),
            line: number + 1,
        };
        let mut fields = line.split_whitespace();
        let (Some(device_id), Some(class), Some(secret_hex), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed());
        };
        let mut secret = [0u8; 32];
        if secret_hex.len() != 64 || hex::decode_to_slice(secret_hex, &mut secret).is_err() {
            return Err(malformed());
        }
        devices.push(SeededDevice {
            device_id: device_id.to_string(),
            class: class.to_string(),
            secret,
        });
    }
    Ok(devices)
}

fn create_private(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, SeedError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    Ok(std::io::BufWriter::new(file))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SeedError + '_ {
    move |source| SeedError::Io {
        path: path.display().to_string(),
        source,
    }
}
