//! Starting and stopping a server: open the data directory, the repository and the
//! listener, then serve HTTP and keep the online metadata fresh until shut down.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use update_core::firmware::check_identifier;

use crate::config::{ConfigError, ServerConfig};
use crate::http::{AppState, router};
use crate::metrics::RequestMetrics;
use crate::repository::{
    KeyFileError, Lifetimes, MAX_METADATA_SIZE, OnlineKeys, Repository, RepositoryError,
    run_refresher,
};
use crate::store::blobs::{BlobError, BlobStore};
use crate::store::{DATABASE_FILE, Store, StoreError};
use crate::token::{generate_token, token_hash};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read root file {path}: {reason}")]
    RootFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("invalid token name: {0}")]
    TokenName(String),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<io::Result<()>>,
    refresher: JoinHandle<()>,
}

impl Server {
    /// Opens everything, binds `config.listen` and starts serving in background tasks.
    pub async fn start(config: ServerConfig) -> Result<Server, StartError> {
        config.validate()?;
        let relays = Arc::new(config.checked_relays()?);
        let store = open_store(&config.data_dir).await?;
        let blobs = BlobStore::open(&config.data_dir).await?;
        let keys = OnlineKeys::load(&config.snapshot_key, &config.timestamp_key)?;
        let initial_root = config.root.as_deref().map(read_root_file).transpose()?;
        let lifetimes = Lifetimes {
            timestamp: config.timestamp_lifetime,
            snapshot: config.snapshot_lifetime,
        };
        let repository = Arc::new(
            Repository::open(store.clone(), blobs.clone(), keys, lifetimes, initial_root).await?,
        );
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let app = router(AppState {
            store,
            blobs,
            repository: repository.clone(),
            poll_interval: config.poll_interval,
            max_image_size: config.max_image_size,
            requests: RequestMetrics::default(),
            relays,
            class_facts: Arc::default(),
        });
        let (shutdown, mut stopped) = watch::channel(false);
        let refresher = tokio::spawn(run_refresher(repository, stopped.clone()));
        let http = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                // An error means the sender is gone: stop as well.
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
        });
        tracing::info!(%local_addr, "listening");
        Ok(Server {
            local_addr,
            shutdown,
            http,
            refresher,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, finishes requests in flight and stops re-signing.
    pub async fn shutdown(self) -> io::Result<()> {
        // No receiver left means both tasks have ended already.
        let _ = self.shutdown.send(true);
        let served = self.http.await.map_err(io::Error::other)?;
        self.refresher.await.map_err(io::Error::other)?;
        served
    }
}

async fn open_store(data_dir: &Path) -> Result<Store, StartError> {
    tokio::fs::create_dir_all(data_dir)
        .await
        .map_err(|source| StartError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
    Ok(Store::open(&data_dir.join(DATABASE_FILE)).await?)
}

fn read_root_file(path: &Path) -> Result<Vec<u8>, StartError> {
    let error = |reason: String| StartError::RootFile {
        path: path.to_path_buf(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| error(e.to_string()))?
        .len();
    if size > MAX_METADATA_SIZE {
        return Err(error(format!("larger than {MAX_METADATA_SIZE} bytes")));
    }
    std::fs::read(path).map_err(|e| error(e.to_string()))
}

/// Creates an admin token in `data_dir` and returns it; only its hash is stored.
pub async fn create_admin_token(data_dir: &Path, name: &str) -> Result<String, StartError> {
    check_identifier("token name", name).map_err(StartError::TokenName)?;
    let store = open_store(data_dir).await?;
    let token = generate_token();
    store.add_admin_token(name, &token_hash(&token)).await?;
    Ok(token)
}
