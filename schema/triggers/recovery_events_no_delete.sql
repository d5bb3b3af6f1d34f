-- History is append-only: recovery events are never deleted (budgets, MTTR and explanations read them),
-- except by `[retention] history` pruning (retention_horizon set in its transaction), and then only a
-- finished event that started before the horizon and belongs to no open incident.
CREATE TRIGGER recovery_events_no_delete
BEFORE DELETE ON recovery_events
WHEN NOT (OLD.started_at < coalesce((SELECT h.history_before FROM retention_horizon AS h WHERE h.id = 1), 0)
          AND OLD.status <> 'started'
          AND NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = OLD.incident_id AND i.status = 'open'))
BEGIN
    SELECT RAISE(ABORT, 'recovery_events is append-only: a recorded recovery event cannot be deleted');
END;
