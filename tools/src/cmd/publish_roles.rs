//! The class-role part of `ota publish` (docs/delegations.md): every role targets.json
//! delegates whose local file is newer than the server's is checked to be signed by a
//! threshold of its keys (refused otherwise, naming the keys that could complete it),
//! its images are uploaded, then the role itself.

use update_core::schema::{SignedEnvelope, Targets};

use super::publish::{ImageSent, PublishError, TargetsSent, send_image};
use crate::admin_client::AdminClient;
use crate::class_roles::{ClassRole, RoleError};
use crate::local_repo::LocalRepo;

pub(super) async fn publish_roles(
    repo: &LocalRepo,
    client: &AdminClient,
    top_level: &Targets,
    images: &mut Vec<ImageSent>,
) -> Result<Vec<(String, TargetsSent)>, PublishError> {
    let mut sent = Vec::new();
    for delegated in top_level.delegations.iter().flat_map(|d| d.roles.iter()) {
        let role = match ClassRole::load(repo, top_level, &delegated.name) {
            Ok(role) => role,
            // Delegated, but nothing was ever signed for it here.
            Err(RoleError::NoRoleFile { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if role.targets.version == 0 {
            continue;
        }
        if let Some(already) = server_has(client, &role).await? {
            sent.push((role.class.clone(), already));
            continue;
        }
        role.check_complete()?;
        for (name, target) in &role.targets.targets {
            images.push(send_image(repo, client, name, target).await?);
        }
        let bytes = role.envelope.to_bytes().map_err(|source| RoleError::Core {
            class: role.class.clone(),
            source,
        })?;
        let published = client.put_delegated_role(&role.class, bytes).await?;
        sent.push((role.class.clone(), TargetsSent::Published(published)));
    }
    Ok(sent)
}

/// `Some` when the server already publishes this very version of the role.
async fn server_has(
    client: &AdminClient,
    role: &ClassRole,
) -> Result<Option<TargetsSent>, PublishError> {
    let file = format!("{}.json", role.class);
    let Some(bytes) = client.metadata(&file).await? else {
        return Ok(None);
    };
    let server_error = |source| PublishError::ServerMetadata {
        file: "delegated role metadata",
        source,
    };
    let envelope = SignedEnvelope::from_slice(&bytes, &file).map_err(server_error)?;
    let server_version = envelope
        .parse_unverified::<Targets>()
        .map_err(server_error)?
        .version;
    let local_version = role.targets.version;
    if server_version > local_version {
        return Err(PublishError::ServerRoleNewer {
            role: role.class.clone(),
            server: server_version,
            local: local_version,
        });
    }
    if server_version < local_version {
        return Ok(None);
    }
    if envelope.signed == role.envelope.signed {
        Ok(Some(TargetsSent::AlreadyPublished {
            version: local_version,
        }))
    } else {
        Err(PublishError::RoleConflict {
            role: role.class.clone(),
            version: local_version,
        })
    }
}
