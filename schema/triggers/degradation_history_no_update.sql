-- History is append-only: a recorded level change is never changed.
CREATE TRIGGER degradation_history_no_update
BEFORE UPDATE ON degradation_history
BEGIN
    SELECT RAISE(ABORT, 'degradation_history is append-only: a recorded level change cannot be changed');
END;
