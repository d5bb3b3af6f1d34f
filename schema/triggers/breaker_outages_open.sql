-- A closed breaker opening starts an outage (recovery_mttr reads breaker_outages, not the transitions).
CREATE TRIGGER breaker_outages_open
AFTER INSERT ON breaker_transitions
WHEN NEW.from_state = 'closed' AND NEW.to_state = 'open'
BEGIN
    INSERT INTO breaker_outages (component_id, opened_at) VALUES (NEW.component_id, NEW.ts);
END;
