-- History is append-only: breaker transitions are never deleted (MTTR and explanations read them), except
-- by `[retention] history` pruning, which sets retention_horizon in its own transaction: then only a
-- transition older than the horizon goes, and never one of a component whose breaker is not closed or
-- that has an open incident.
CREATE TRIGGER breaker_transitions_no_delete
BEFORE DELETE ON breaker_transitions
WHEN NOT (OLD.ts < coalesce((SELECT h.history_before FROM retention_horizon AS h WHERE h.id = 1), 0)
          AND NOT EXISTS (SELECT 1 FROM incidents AS i
                           WHERE i.component_id = OLD.component_id AND i.status = 'open')
          AND NOT EXISTS (SELECT 1 FROM breakers AS b
                           WHERE b.component_id = OLD.component_id AND b.state <> 'closed'))
BEGIN
    SELECT RAISE(ABORT, 'breaker_transitions is append-only: a recorded transition cannot be deleted');
END;
