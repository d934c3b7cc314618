-- A class's cap on concurrent installs: when a device was last granted one of its
-- class's install places (Unix seconds). NULL once it reports a terminal event.
ALTER TABLE devices ADD COLUMN install_place_at BIGINT;
