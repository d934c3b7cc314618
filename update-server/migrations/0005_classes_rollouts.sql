-- Class control profiles and staged rollouts. A class's baseline release stays in
-- class_pins (one place): a profile's `baseline` reads and writes that row.
-- Lists are JSON arrays of strings in TEXT; shares are DOUBLE PRECISION in 0..1.
CREATE TABLE class_profiles (
    class TEXT PRIMARY KEY,
    hardware TEXT NOT NULL,
    networks TEXT NOT NULL,
    relays TEXT NOT NULL,
    poll_interval_secs BIGINT,
    window_start TEXT,
    window_end TEXT,
    max_concurrent_installs BIGINT,
    success_threshold DOUBLE PRECISION,
    updated_at BIGINT NOT NULL
);

-- One row per rollout; `waves` is the cumulative percentages, comma separated.
-- `state`, `wave` and `wave_opened_at` change as the rollout advances, pauses or halts.
CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    target_name TEXT NOT NULL,
    version TEXT NOT NULL,
    waves TEXT NOT NULL,
    soak_secs BIGINT NOT NULL,
    max_failure_rate DOUBLE PRECISION NOT NULL,
    min_finished BIGINT NOT NULL,
    state TEXT NOT NULL,
    wave BIGINT NOT NULL,
    wave_opened_at BIGINT NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX rollouts_by_class ON rollouts (class, created_at);
