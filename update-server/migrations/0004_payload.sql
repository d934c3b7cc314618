-- The form each update travelled in (`Report.payload`): one row per device update (device,
-- release target), like the reports it comes from. `first_kind` is the form the device
-- reported first (what it chose); `kind` and the other fields follow its latest report, so
-- a delta that failed and fell back to the full image ends with kind 'zstd' or 'raw' and
-- keeps its `delta_failure`.
CREATE TABLE update_payloads (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    target_name TEXT NOT NULL,
    class TEXT NOT NULL,
    first_kind TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload_target TEXT NOT NULL,
    base_version TEXT,
    length BIGINT NOT NULL,
    reason TEXT NOT NULL,
    delta_failure TEXT,
    first_reported_at BIGINT NOT NULL,
    reported_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, target_name)
);
