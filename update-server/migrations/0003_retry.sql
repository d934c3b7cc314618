-- An operator may let a device retry a release that failed on it; the flag is cleared
-- when the device starts downloading again.
ALTER TABLE devices ADD COLUMN retry_requested INTEGER NOT NULL DEFAULT 0;
