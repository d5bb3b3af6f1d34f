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
END;
