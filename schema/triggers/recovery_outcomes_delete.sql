-- A recovery event pruned by `[retention] history` stops counting (a group left empty goes).
CREATE TRIGGER recovery_outcomes_delete
AFTER DELETE ON recovery_events
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
END;
