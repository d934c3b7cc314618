//! `ota publish`: sends the repository to the server: root versions the server lacks (in
//! order), images it lacks (streamed), then targets.json, then each class role whose
//! local version the server lacks ([`super::publish_roles`]).

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use update_core::schema::{Root, SignedEnvelope, TargetFile, Targets};
use update_core::trust::{verify_root_update, verify_self_signed_root};

use super::ServerArgs;
use update_core::api::TargetsPublished;

use super::publish_roles::publish_roles;
use crate::admin_client::{AdminClient, AdminError};
use crate::class_roles::RoleError;
use crate::local_repo::{LocalRepo, LocalTargets, RepoError};

#[derive(Clone, Debug, clap::Args)]
pub struct PublishArgs {
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("server has no root; start it with --root")]
    ServerHasNoRoot,
    #[error("the server's {file} is not valid: {source}")]
    ServerMetadata {
        file: &'static str,
        source: update_core::Error,
    },
    #[error("the server has root version {server}, newer than the repository's newest ({local})")]
    ServerRootNewer { server: u64, local: u64 },
    #[error(
        "the server's root version {0} differs from the repository's {0}.root.json: this repository is not the one the server trusts"
    )]
    RootMismatch(u64),
    #[error("{path} does not verify as the next root version: {source}")]
    BrokenRootChain {
        path: PathBuf,
        source: update_core::Error,
    },
    #[error("target {name} has no sha256 in targets.json")]
    TargetWithoutHash { name: String },
    #[error("image {path} is {actual} bytes but targets.json signs {expected}")]
    ImageLength {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("cannot read image {path}: {source}")]
    Image {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the server has targets version {server}, newer than the repository's {local}")]
    ServerTargetsNewer { server: u64, local: u64 },
    #[error("the server already has targets version {0} with different content")]
    TargetsConflict(u64),
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error("the server has role {role} version {server}, newer than the repository's {local}")]
    ServerRoleNewer {
        role: String,
        server: u64,
        local: u64,
    },
    #[error("the server already has role {role} version {version} with different content")]
    RoleConflict { role: String, version: u64 },
}

/// What `publish` sent.
#[derive(Debug, Default)]
pub struct PublishReport {
    pub roots_uploaded: Vec<u64>,
    pub images: Vec<ImageSent>,
    pub targets: Option<TargetsSent>,
    /// Class roles (docs/delegations.md), by role name.
    pub roles: Vec<(String, TargetsSent)>,
}

#[derive(Debug)]
pub struct ImageSent {
    pub target_name: String,
    pub length: u64,
    /// False when the server already had it.
    pub uploaded: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TargetsSent {
    Published(TargetsPublished),
    AlreadyPublished { version: u64 },
}

pub async fn publish(
    repo: &LocalRepo,
    client: &AdminClient,
) -> Result<PublishReport, PublishError> {
    let mut report = PublishReport {
        roots_uploaded: publish_roots(repo, client).await?,
        ..PublishReport::default()
    };
    let root = repo.load_root()?;
    let Some(local) = repo.load_targets(&root)? else {
        return Ok(report);
    };
    for (name, target) in &local.targets.targets {
        report
            .images
            .push(send_image(repo, client, name, target).await?);
    }
    report.targets = Some(publish_targets(client, &local).await?);
    report.roles = publish_roles(repo, client, &local.targets, &mut report.images).await?;
    Ok(report)
}

/// Uploads the image of target `name` unless the server has it already.
pub(super) async fn send_image(
    repo: &LocalRepo,
    client: &AdminClient,
    name: &str,
    target: &TargetFile,
) -> Result<ImageSent, PublishError> {
    let sha256 = target
        .sha256()
        .ok_or_else(|| PublishError::TargetWithoutHash { name: name.into() })?;
    let uploaded = !client.has_image(sha256).await?;
    if uploaded {
        let path = repo.image_path(name)?;
        let actual = std::fs::metadata(&path)
            .map_err(|source| PublishError::Image {
                path: path.clone(),
                source,
            })?
            .len();
        if actual != target.length {
            return Err(PublishError::ImageLength {
                path,
                expected: target.length,
                actual,
            });
        }
        let progress = progress_bar(name, target.length);
        let sent = client
            .upload_image(sha256, &path, target.length, &progress)
            .await;
        progress.finish_and_clear();
        sent?;
    }
    Ok(ImageSent {
        target_name: name.to_string(),
        length: target.length,
        uploaded,
    })
}

/// Uploads every local root newer than the server's, after checking that the server's
/// current root is ours and that each new version verifies as the successor of the last.
async fn publish_roots(repo: &LocalRepo, client: &AdminClient) -> Result<Vec<u64>, PublishError> {
    let server_bytes = client
        .metadata("root.json")
        .await?
        .ok_or(PublishError::ServerHasNoRoot)?;
    let server_envelope = parse_server(&server_bytes, "root.json")?;
    let server_version = server_envelope
        .parse_unverified::<Root>()
        .map_err(|source| PublishError::ServerMetadata {
            file: "root.json",
            source,
        })?
        .version;
    let versions = repo.root_versions()?;
    let local_newest = versions.last().map_or(0, |file| file.version);
    if server_version > local_newest {
        return Err(PublishError::ServerRootNewer {
            server: server_version,
            local: local_newest,
        });
    }
    let mut uploaded = Vec::new();
    let mut trusted: Option<Root> = None;
    for file in &versions {
        let (bytes, envelope) = repo.read_envelope(&file.path)?;
        let chain_error = |source| PublishError::BrokenRootChain {
            path: file.path.clone(),
            source,
        };
        let verified = match &trusted {
            None => verify_self_signed_root(&envelope).map_err(chain_error)?,
            Some(previous) => verify_root_update(previous, &envelope).map_err(chain_error)?,
        };
        if file.version == server_version && envelope.signed != server_envelope.signed {
            return Err(PublishError::RootMismatch(server_version));
        }
        if file.version > server_version {
            client.put_root(bytes).await?;
            uploaded.push(file.version);
        }
        trusted = Some(verified.into_inner());
    }
    Ok(uploaded)
}

/// Publishes targets.json unless the server already has this very version.
async fn publish_targets(
    client: &AdminClient,
    local: &LocalTargets,
) -> Result<TargetsSent, PublishError> {
    let local_version = local.targets.version;
    if let Some(server_bytes) = client.metadata("targets.json").await? {
        let server_envelope = parse_server(&server_bytes, "targets.json")?;
        let server_version = server_envelope
            .parse_unverified::<Targets>()
            .map_err(|source| PublishError::ServerMetadata {
                file: "targets.json",
                source,
            })?
            .version;
        if server_version == local_version {
            return if server_envelope.signed == local.envelope.signed {
                Ok(TargetsSent::AlreadyPublished {
                    version: local_version,
                })
            } else {
                Err(PublishError::TargetsConflict(server_version))
            };
        }
        if server_version > local_version {
            return Err(PublishError::ServerTargetsNewer {
                server: server_version,
                local: local_version,
            });
        }
    }
    let published = client.put_targets(local.bytes.clone()).await?;
    Ok(TargetsSent::Published(published))
}

fn parse_server(bytes: &[u8], file: &'static str) -> Result<SignedEnvelope, PublishError> {
    SignedEnvelope::from_slice(bytes, file)
        .map_err(|source| PublishError::ServerMetadata { file, source })
}

fn progress_bar(name: &str, length: u64) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("uploading {name}"));
    bar
}

/// Prints what was sent, one line per item.
pub fn print_report(report: &PublishReport) {
    for version in &report.roots_uploaded {
        println!("root: uploaded version {version}");
    }
    for image in &report.images {
        let what = if image.uploaded {
            "uploaded"
        } else {
            "already on the server"
        };
        println!(
            "image {} ({} bytes): {what}",
            image.target_name, image.length
        );
    }
    match &report.targets {
        Some(TargetsSent::Published(published)) => println!(
            "targets: published version {} (server signed snapshot {} and timestamp {})",
            published.targets_version, published.snapshot_version, published.timestamp_version
        ),
        Some(TargetsSent::AlreadyPublished { version }) => {
            println!("targets: version {version} is already published")
        }
        None => println!("targets: the repository has no targets.json yet"),
    }
    for (role, sent) in &report.roles {
        match sent {
            TargetsSent::Published(published) => println!(
                "role {role}: published (server signed snapshot {} and timestamp {})",
                published.snapshot_version, published.timestamp_version
            ),
            TargetsSent::AlreadyPublished { version } => {
                println!("role {role}: version {version} is already published")
            }
        }
    }
}

pub async fn run(args: &PublishArgs) -> anyhow::Result<()> {
    let client = args.server.client()?;
    let report = publish(&LocalRepo::new(&args.repo), &client).await?;
    print_report(&report);
    Ok(())
}
