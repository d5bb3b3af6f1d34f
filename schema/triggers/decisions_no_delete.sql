-- The healer's decisions and their reasons are the explanation of what it did: never deleted, except by
-- `[retention] history` pruning (retention_horizon set in its transaction), and then only a decision
-- older than the horizon that belongs to no open incident.
CREATE TRIGGER decisions_no_delete
BEFORE DELETE ON decisions
WHEN NOT (OLD.ts < coalesce((SELECT h.history_before FROM retention_horizon AS h WHERE h.id = 1), 0)
          AND NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = OLD.incident_id AND i.status = 'open'))
BEGIN
    SELECT RAISE(ABORT, 'decisions is append-only: a recorded decision cannot be deleted');
END;
