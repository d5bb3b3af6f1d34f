-- History is append-only: recovery events are never deleted (budgets, MTTR and explanations read them).
CREATE TRIGGER recovery_events_no_delete
BEFORE DELETE ON recovery_events
BEGIN
    SELECT RAISE(ABORT, 'recovery_events is append-only: a recorded recovery event cannot be deleted');
END;
