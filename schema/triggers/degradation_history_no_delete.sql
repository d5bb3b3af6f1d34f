-- History is append-only: recorded level changes are never deleted.
CREATE TRIGGER degradation_history_no_delete
BEFORE DELETE ON degradation_history
BEGIN
    SELECT RAISE(ABORT, 'degradation_history is append-only: a recorded level change cannot be deleted');
END;
