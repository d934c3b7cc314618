-- Configuration profiles and management paths.
--
-- `config_profiles`: every configuration profile published (a target carrying
-- `custom.config_profile`), with its parsed contents, so the server computes drift from
-- device digests against its own copy of the signed profile.
CREATE TABLE config_profiles (
    class TEXT NOT NULL,
    version BIGINT NOT NULL,
    target_name TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    profile_json TEXT NOT NULL,
    first_targets_version BIGINT NOT NULL,
    PRIMARY KEY (class, version)
);

-- Per device, from its last check-in: where it came from (`source_address`: the TCP peer,
-- or the client address a configured relay forwarded; `relay`: that relay's name), and its
-- configuration against the profile it measured (`config_version` NULL: no config
-- reported; `config_drift_json`: JSON array of the drifted paths, empty when none).
ALTER TABLE devices ADD COLUMN source_address TEXT;
ALTER TABLE devices ADD COLUMN relay TEXT;
ALTER TABLE devices ADD COLUMN config_version BIGINT;
ALTER TABLE devices ADD COLUMN config_drift_json TEXT;
