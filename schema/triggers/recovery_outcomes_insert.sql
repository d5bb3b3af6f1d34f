-- A recorded recovery event counts in its component's and strategy's outcomes (recovery_ladder_outcomes).
-- Dry runs and skipped steps are not counted, as in the view; a fallback's deactivate counts as `failback`.
-- The group's median and maximum seconds to verified health are recomputed through recovery_verified's
-- (component_id, strategy, seconds) index: cheap for a rare write, and a report then reads one row.
CREATE TRIGGER recovery_outcomes_insert
AFTER INSERT ON recovery_events
BEGIN
    INSERT INTO recovery_outcomes (component_id, strategy, succeeded, failed, interrupted, in_progress, last_started_at)
    SELECT NEW.component_id, CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END,
           NEW.status = 'succeeded', NEW.status = 'failed', NEW.status = 'interrupted', NEW.status = 'started',
           NEW.started_at
     WHERE NEW.dry_run = 0 AND NEW.status <> 'skipped'
    ON CONFLICT (component_id, strategy) DO UPDATE SET
        succeeded = succeeded + excluded.succeeded,
        failed = failed + excluded.failed,
        interrupted = interrupted + excluded.interrupted,
        in_progress = in_progress + excluded.in_progress,
        last_started_at = max(coalesce(last_started_at, excluded.last_started_at), excluded.last_started_at);
    INSERT INTO recovery_verified (event_id, component_id, strategy, seconds)
    SELECT NEW.id, NEW.component_id, CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END, NEW.verified_at - NEW.started_at
     WHERE NEW.dry_run = 0 AND NEW.status = 'succeeded' AND NEW.verified_at IS NOT NULL;
    UPDATE recovery_outcomes
       SET verified = (SELECT count(*) FROM recovery_verified AS v
                     WHERE v.component_id = NEW.component_id AND v.strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END),
           median_to_verified_s = (
               SELECT avg(md.seconds)
                 FROM (SELECT v.seconds FROM recovery_verified AS v
                        WHERE v.component_id = NEW.component_id AND v.strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END
                        ORDER BY v.seconds
                        LIMIT 2 - (SELECT count(*) FROM recovery_verified AS v
                     WHERE v.component_id = NEW.component_id AND v.strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END) % 2
                       OFFSET ((SELECT count(*) FROM recovery_verified AS v
                     WHERE v.component_id = NEW.component_id AND v.strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END) - 1) / 2) AS md),
           max_to_verified_s = (SELECT max(v.seconds) FROM recovery_verified AS v
                                 WHERE v.component_id = NEW.component_id AND v.strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END)
     WHERE component_id = NEW.component_id AND strategy = CASE WHEN NEW.strategy = 'fallback' AND NEW.action = 'deactivate' THEN 'failback' ELSE NEW.strategy END;
END;
