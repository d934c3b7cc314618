-- Devices whose clock is behind their TUF time floor say so at check-in.
ALTER TABLE devices ADD COLUMN clock_untrusted INTEGER NOT NULL DEFAULT 0;
