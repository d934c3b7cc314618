-- The server's state. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are Unix seconds (BIGINT); versions are semantic-version strings; hashes are
-- lowercase hex sha256.

CREATE TABLE admin_tokens (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    hardware_id TEXT,
    firmware_version TEXT,
    image_sha256 TEXT,
    boot_slot TEXT,
    pending_target TEXT,
    pending_version TEXT,
    pending_event TEXT,
    last_event TEXT,
    last_reason TEXT,
    last_seen BIGINT,
    peer_address TEXT
);

CREATE INDEX devices_by_class ON devices (class);

-- One row per (device, target, event): a retried report updates its row, so counts of
-- rows are counts of distinct attempts and outcomes.
CREATE TABLE reports (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    target_name TEXT NOT NULL,
    event TEXT NOT NULL,
    class TEXT NOT NULL,
    version TEXT NOT NULL,
    from_version TEXT NOT NULL,
    reason TEXT,
    bytes_downloaded BIGINT NOT NULL,
    reported_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, target_name, event)
);

-- Every metadata file the repository ever published, by role and version.
CREATE TABLE metadata_versions (
    role TEXT NOT NULL,
    version BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (role, version)
);

-- Every (target name, content) pair some published targets version listed: what
-- /targets/HASH.NAME may serve.
CREATE TABLE published_targets (
    target_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    first_targets_version BIGINT NOT NULL,
    PRIMARY KEY (target_name, sha256)
);

-- Firmware releases; a release is current while last_targets_version is the newest
-- published targets version.
CREATE TABLE releases (
    target_name TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    first_targets_version BIGINT NOT NULL,
    last_targets_version BIGINT NOT NULL
);

CREATE TABLE release_hardware (
    target_name TEXT NOT NULL REFERENCES releases (target_name) ON DELETE CASCADE,
    hardware_id TEXT NOT NULL,
    PRIMARY KEY (target_name, hardware_id)
);

-- Approved release per class, set by an operator; without a row the newest release wins.
CREATE TABLE class_pins (
    class TEXT PRIMARY KEY,
    target_name TEXT NOT NULL,
    pinned_at BIGINT NOT NULL
);
