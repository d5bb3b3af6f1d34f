-- A recovery event is written as 'started' before its action runs and gets its outcome once; after that it is final.
CREATE TRIGGER recovery_events_final_no_update
BEFORE UPDATE ON recovery_events
WHEN OLD.status <> 'started'
BEGIN
    SELECT RAISE(ABORT, 'recovery_events: a finished recovery event is final and cannot be changed');
END;
