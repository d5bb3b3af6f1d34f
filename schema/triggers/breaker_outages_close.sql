-- A close ends the component's outage in progress (re-opens from half-open in between change nothing), and
-- the component's MTTR figures (count, mean, median, min, max, last close) are recomputed through the
-- (component_id, seconds) index into breaker_outage_stats, so recovery_mttr reads one row per component.
CREATE TRIGGER breaker_outages_close
AFTER INSERT ON breaker_transitions
WHEN NEW.to_state = 'closed'
BEGIN
    UPDATE breaker_outages
       SET closed_at = NEW.ts, seconds = NEW.ts - opened_at
     WHERE component_id = NEW.component_id AND seconds IS NULL;
    INSERT INTO breaker_outage_stats (component_id, recoveries, mean_s, median_s, min_s, max_s, last_closed_at)
    SELECT NEW.component_id, count(*), avg(o.seconds),
           (SELECT avg(md.seconds)
              FROM (SELECT o.seconds FROM breaker_outages AS o
                     WHERE o.component_id = NEW.component_id AND o.seconds IS NOT NULL
                     ORDER BY o.seconds
                     LIMIT 2 - (SELECT count(*) FROM breaker_outages AS o WHERE o.component_id = NEW.component_id AND o.seconds IS NOT NULL) % 2
                    OFFSET ((SELECT count(*) FROM breaker_outages AS o WHERE o.component_id = NEW.component_id AND o.seconds IS NOT NULL) - 1) / 2) AS md),
           min(o.seconds), max(o.seconds), max(o.closed_at)
      FROM breaker_outages AS o
     WHERE o.component_id = NEW.component_id AND o.seconds IS NOT NULL
    ON CONFLICT (component_id) DO UPDATE SET
        recoveries = excluded.recoveries,
        mean_s = excluded.mean_s,
        median_s = excluded.median_s,
        min_s = excluded.min_s,
        max_s = excluded.max_s,
        last_closed_at = excluded.last_closed_at;
    DELETE FROM breaker_outage_stats WHERE component_id = NEW.component_id AND recoveries = 0;
END;
