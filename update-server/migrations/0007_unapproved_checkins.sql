-- Check-ins that came through a network or relay their class does not approve, counted
-- per class (a Prometheus counter: it only grows). Each one is also in the audit log.
CREATE TABLE unapproved_checkins (
    class TEXT PRIMARY KEY,
    total BIGINT NOT NULL
);
