-- A recovery event that gets its outcome moves from in_progress to its status (old counted out, new in).
CREATE TRIGGER recovery_outcomes_update
AFTER UPDATE ON recovery_events
BEGIN
    UPDATE recovery_outcomes
       SET succeeded = succeeded - (OLD.status = 'succeeded'),
           failed = failed - (OLD.status = 'failed'),
           interrupted = interrupted - (OLD.status = 'interrupted'),
           in_progress = in_progress - (OLD.status = 'started')
     WHERE component_id = OLD.component_id AND strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END
       AND OLD.dry_run = 0 AND OLD.status <> 'skipped';
    DELETE FROM recovery_outcomes
     WHERE component_id = OLD.component_id AND strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END
       AND succeeded + failed + interrupted + in_progress = 0;
    DELETE FROM recovery_verified WHERE event_id = OLD.id;
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
                     WHERE v.component_id = OLD.component_id AND v.strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END),
           median_to_verified_s = (
               SELECT avg(md.seconds)
                 FROM (SELECT v.seconds FROM recovery_verified AS v
                        WHERE v.component_id = OLD.component_id AND v.strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END
                        ORDER BY v.seconds
                        LIMIT 2 - (SELECT count(*) FROM recovery_verified AS v
                     WHERE v.component_id = OLD.component_id AND v.strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END) % 2
                       OFFSET ((SELECT count(*) FROM recovery_verified AS v
                     WHERE v.component_id = OLD.component_id AND v.strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END) - 1) / 2) AS md),
           max_to_verified_s = (SELECT max(v.seconds) FROM recovery_verified AS v
                                 WHERE v.component_id = OLD.component_id AND v.strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END)
     WHERE component_id = OLD.component_id AND strategy = CASE WHEN OLD.strategy = 'fallback' AND OLD.action = 'deactivate' THEN 'failback' ELSE OLD.strategy END;
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
