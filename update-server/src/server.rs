//! Starting and stopping a server: open the data directory, the repository and the
//! listener, then serve HTTP and keep the online metadata fresh until shut down.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use update_core::firmware::check_identifier;
use update_core::tls::TlsError;

use crate::config::{ConfigError, ServerConfig};
use crate::http::{AppState, router};
use crate::metrics::RequestMetrics;
use crate::repository::{
    KeyFileError, Lifetimes, MAX_METADATA_SIZE, OnlineKeys, Repository, RepositoryError,
    run_refresher,
};
use crate::scope::Scopes;
use crate::store::blobs::{BlobError, BlobStore};
use crate::store::{AdminTokenInfo, DATABASE_FILE, Store, StoreError};
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
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] TlsError),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    https: bool,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<io::Result<()>>,
    refresher: JoinHandle<()>,
}

impl Server {
    /// Opens everything, binds `config.listen` and starts serving in background tasks.
    pub async fn start(config: ServerConfig) -> Result<Server, StartError> {
        config.validate()?;
        let relays = Arc::new(config.checked_relays()?);
        // Before anything is opened: a bad certificate or key fails the start at once.
        let tls = config
            .tls
            .as_ref()
            .map(|files| update_core::tls::server_config(&files.cert, &files.key))
            .transpose()?;
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
            device_keys: Arc::default(),
        });
        let (shutdown, stopped) = watch::channel(false);
        let refresher = tokio::spawn(run_refresher(repository, stopped.clone()));
        let https = tls.is_some();
        let http = match tls {
            None => tokio::spawn(serve_plain(listener, app, stopped)),
            Some(tls) => {
                let listener = listener.into_std().map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
                let server = axum_server::from_tcp_rustls(
                    listener,
                    RustlsConfig::from_config(Arc::new(tls)),
                )
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
                tokio::spawn(serve_tls(server, app, stopped))
            }
        };
        tracing::info!(%local_addr, "listening");
        Ok(Server {
            local_addr,
            https,
            shutdown,
            http,
            refresher,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://IP:PORT` or `http://IP:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
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

async fn serve_plain(
    listener: TcpListener,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        // An error means the sender is gone: stop as well.
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await
}

async fn serve_tls(
    server: axum_server::Server<SocketAddr, axum_server::tls_rustls::RustlsAcceptor>,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        // An error means the sender is gone: stop as well.
        let _ = stopped.wait_for(|stop| *stop).await;
        // No deadline, as for plain HTTP: requests in flight finish.
        shutdown.graceful_shutdown(None);
    });
    server
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
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

/// Creates an admin token with every scope in `data_dir` and returns it; only its hash
/// is stored.
pub async fn create_admin_token(data_dir: &Path, name: &str) -> Result<String, StartError> {
    create_scoped_admin_token(data_dir, name, &Scopes::all()).await
}

/// Creates an admin token limited to `scopes` and returns it; only its hash is stored.
pub async fn create_scoped_admin_token(
    data_dir: &Path,
    name: &str,
    scopes: &Scopes,
) -> Result<String, StartError> {
    check_identifier("token name", name).map_err(StartError::TokenName)?;
    let store = open_store(data_dir).await?;
    let token = generate_token();
    store
        .add_admin_token(name, &token_hash(&token), scopes)
        .await?;
    Ok(token)
}

/// The admin tokens of `data_dir` (names, scopes, creation times; never the tokens).
pub async fn list_admin_tokens(data_dir: &Path) -> Result<Vec<AdminTokenInfo>, StartError> {
    Ok(open_store(data_dir).await?.admin_tokens().await?)
}

/// Revokes every admin token named `name`; returns how many there were.
pub async fn revoke_admin_tokens(data_dir: &Path, name: &str) -> Result<u64, StartError> {
    Ok(open_store(data_dir)
        .await?
        .revoke_admin_tokens(name)
        .await?)
}
