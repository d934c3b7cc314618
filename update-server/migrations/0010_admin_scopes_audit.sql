-- Scoped admin tokens: scope names joined by commas (read, publish, rollout, devices,
-- all). Tokens made before scopes existed could do everything, and still can.
ALTER TABLE admin_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'all';

-- Every admin request (accepted, refused for scope, or with an unknown token) and every
-- check-in through an unapproved management path. Append-only; ids are assigned by the
-- insert itself (MAX + 1), which works the same on PostgreSQL.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome BIGINT NOT NULL,
    source_address TEXT
);
