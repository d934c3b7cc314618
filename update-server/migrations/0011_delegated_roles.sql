-- Metadata of delegated targets roles (one per device class: docs/delegations.md), by
-- role name and version. The top-level roles stay in metadata_versions.
CREATE TABLE delegated_metadata (
    role_name TEXT NOT NULL,
    version BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (role_name, version)
);
