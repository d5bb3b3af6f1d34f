-- `[retention] history` pruning the transition that opened an outage prunes the outage with it, and the
-- component's MTTR figures are recomputed from the outages that stay.
CREATE TRIGGER breaker_outages_prune
AFTER DELETE ON breaker_transitions
WHEN OLD.from_state = 'closed' AND OLD.to_state = 'open'
BEGIN
    DELETE FROM breaker_outages WHERE component_id = OLD.component_id AND opened_at = OLD.ts;
    INSERT INTO breaker_outage_stats (component_id, recoveries, mean_s, median_s, min_s, max_s, last_closed_at)
    SELECT OLD.component_id, count(*), avg(o.seconds),
           (SELECT avg(md.seconds)
              FROM (SELECT o.seconds FROM breaker_outages AS o
                     WHERE o.component_id = OLD.component_id AND o.seconds IS NOT NULL
                     ORDER BY o.seconds
                     LIMIT 2 - (SELECT count(*) FROM breaker_outages AS o WHERE o.component_id = OLD.component_id AND o.seconds IS NOT NULL) % 2
                    OFFSET ((SELECT count(*) FROM breaker_outages AS o WHERE o.component_id = OLD.component_id AND o.seconds IS NOT NULL) - 1) / 2) AS md),
           min(o.seconds), max(o.seconds), max(o.closed_at)
      FROM breaker_outages AS o
     WHERE o.component_id = OLD.component_id AND o.seconds IS NOT NULL
    ON CONFLICT (component_id) DO UPDATE SET
        recoveries = excluded.recoveries,
        mean_s = excluded.mean_s,
        median_s = excluded.median_s,
        min_s = excluded.min_s,
        max_s = excluded.max_s,
        last_closed_at = excluded.last_closed_at;
    DELETE FROM breaker_outage_stats WHERE component_id = OLD.component_id AND recoveries = 0;
END;
