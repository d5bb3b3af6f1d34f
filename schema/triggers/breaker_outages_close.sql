-- A close ends the component's outage in progress; re-opens from half-open in between change nothing.
CREATE TRIGGER breaker_outages_close
AFTER INSERT ON breaker_transitions
WHEN NEW.to_state = 'closed'
BEGIN
    UPDATE breaker_outages
       SET closed_at = NEW.ts, seconds = NEW.ts - opened_at
     WHERE component_id = NEW.component_id AND seconds IS NULL;
END;
