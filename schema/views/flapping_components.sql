-- Components in a flapping incident now (issue 10): since when, how often the breaker opened during it,
-- how many recovery actions it took (bounded by [component.flapping] actions) and whether it escalated.
-- The incident stays open through every flap and closes once the component is healthy for `quiet`.
CREATE VIEW flapping_components AS
SELECT c.name AS component,
       i.id AS incident_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.opened_at, 'unixepoch') AS flapping_since,
       round((julianday('now') - 2440587.5) * 86400.0 - i.opened_at, 3) AS flapping_for_s,
       (SELECT count(*) FROM breaker_transitions AS t
         WHERE t.component_id = i.component_id AND t.to_state = 'open' AND t.ts >= i.opened_at) AS breaker_opens,
       (SELECT count(*) FROM recovery_events AS r WHERE r.incident_id = i.id AND r.dry_run = 0) AS actions,
       (SELECT count(*) FROM escalations AS e WHERE e.incident_id = i.id AND e.kind = 'initial') > 0 AS escalated,
       b.state AS breaker_state
  FROM incidents AS i
  JOIN components AS c ON c.id = i.component_id
  LEFT JOIN breakers AS b ON b.component_id = i.component_id
 WHERE i.status = 'open' AND i.trigger = 'flapping'
 ORDER BY i.opened_at;
