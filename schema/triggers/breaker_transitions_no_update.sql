-- History is append-only: a breaker transition, once written, is never changed.
CREATE TRIGGER breaker_transitions_no_update
BEFORE UPDATE ON breaker_transitions
BEGIN
    SELECT RAISE(ABORT, 'breaker_transitions is append-only: a recorded transition cannot be changed');
END;
