-- A class's installs in progress (devices whose last event is not terminal) are read at
-- check-in when the class has a maintenance window or an install cap: an index range,
-- not a scan of the class.
CREATE INDEX devices_by_class_event ON devices (class, last_event);
