-- History is append-only: breaker transitions are never deleted (MTTR and explanations read them).
CREATE TRIGGER breaker_transitions_no_delete
BEFORE DELETE ON breaker_transitions
BEGIN
    SELECT RAISE(ABORT, 'breaker_transitions is append-only: a recorded transition cannot be deleted');
END;
