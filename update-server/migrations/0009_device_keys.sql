-- Device identity: each device signs its requests with its own ed25519 key (the public
-- key, lowercase hex, is all the server holds). Bearer tokens for devices are gone;
-- token_sha256 stays (SQLite cannot drop its NOT NULL portably) and new rows store a
-- placeholder unique per device there, never a usable token.
ALTER TABLE devices ADD COLUMN public_key TEXT;
-- The highest request sequence accepted from the device: replay protection that does
-- not trust device clocks.
ALTER TABLE devices ADD COLUMN last_sequence BIGINT NOT NULL DEFAULT 0;
-- Set when the device was revoked (Unix seconds); its signatures are refused from then.
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;

-- One enrollment secret per class, stored only as its sha256.
CREATE TABLE enrollment_secrets (
    class TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
