//! `tuf-client`: the TUF conformance command line (the tuf-conformance suite's
//! client-under-test protocol) on the same updater the device agent uses.
//!
//! - `init ROOT`: trust ROOT as the initial root (`DIR/root.json`); it must be a
//!   well-formed root signed by a threshold of its own keys. No network.
//! - `refresh`: the client workflow for the top-level roles.
//! - `download`: refresh, then for each `--target-name` in order: find it through the
//!   delegations, and unless `TARGET_DIR` already holds it with the signed length and
//!   hashes, download, verify and store it as `TARGET_DIR/<quoted name>`. Stops at the
//!   first failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use tracing::info;
use update_core::layout::quote_name;
use update_core::schema::SignedEnvelope;
use update_core::trust::verify_self_signed_root;

use crate::error::{Error, Result};
use crate::fetch::HttpClient;
use crate::tuf::{Limits, Updater, is_cached};
use update_core::tls::ClientTrust;

/// Connect and per-read timeout of every request (slow-retrieval protection).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Makes `root_file` the trusted root in `metadata_dir`.
pub fn init(metadata_dir: &Path, root_file: &Path) -> Result<()> {
    let limit = Limits::default().root;
    let bytes = crate::atomic::read_limited(root_file, limit)
        .map_err(Error::io(format!("reading {}", root_file.display())))?
        .ok_or_else(|| Error::Io {
            context: format!("reading {}", root_file.display()),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
    let envelope = SignedEnvelope::from_slice(&bytes, "initial root")?;
    let root = verify_self_signed_root(&envelope)?;
    let store = crate::tuf::MetadataStore::new(metadata_dir);
    store.store("root", &bytes)?;
    info!(version = root.version, dir = %metadata_dir.display(), "initialised with a trusted root");
    Ok(())
}

/// One updater over a repository, for `refresh` and `download`.
pub fn updater(
    metadata_dir: &Path,
    metadata_url: &Url,
    targets_url: Option<&Url>,
) -> Result<Updater> {
    let http = HttpClient::new(TIMEOUT, &ClientTrust::default())?;
    let targets_url = targets_url.unwrap_or(metadata_url).clone();
    Ok(Updater::new(
        http,
        metadata_url.clone(),
        targets_url,
        metadata_dir,
        None,
        Limits::default(),
    ))
}

pub async fn refresh(updater: &Updater) -> Result<()> {
    let refreshed = updater.refresh().await?;
    let trusted = &refreshed.trusted;
    info!(
        root = trusted.root().version,
        timestamp = trusted.timestamp().map(|t| t.version),
        snapshot = trusted.snapshot().map(|s| s.version),
        targets = trusted.targets().map(|t| t.version),
        "refreshed"
    );
    Ok(())
}

/// Refreshes, then fetches each target into `target_dir` in order.
pub async fn download(updater: &Updater, target_names: &[String], target_dir: &Path) -> Result<()> {
    let mut trusted = updater.refresh().await?.trusted;
    for name in target_names {
        let target = updater
            .find_target(&mut trusted, name)
            .await?
            .ok_or_else(|| {
                Error::Metadata(update_core::Error::InvalidMetadata(format!(
                    "no trusted role lists target {name:?}"
                )))
            })?;
        let path: PathBuf = target_dir.join(quote_name(name));
        if is_cached(&path, &target) {
            info!(target = name, path = %path.display(), "already downloaded with the signed hashes");
            continue;
        }
        let url = updater.target_url(&trusted, name, &target)?;
        info!(target = name, %url, length = target.length, "downloading");
        let file = tempfile::NamedTempFile::new_in(target_dir).map_err(Error::io(format!(
            "creating a temporary file in {}",
            target_dir.display()
        )))?;
        let mut writer = std::io::BufWriter::new(file);
        updater
            .download_target(&url, name, &target, |chunk| {
                use std::io::Write;
                writer
                    .write_all(chunk)
                    .map_err(Error::io("writing the download"))
            })
            .await?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io("writing the download")(e.into_error()))?;
        file.as_file()
            .sync_all()
            .map_err(Error::io("syncing the download"))?;
        file.persist(&path)
            .map_err(|e| Error::io(format!("storing {}", path.display()))(e.error))?;
        info!(target = name, path = %path.display(), "downloaded and verified");
    }
    Ok(())
}
