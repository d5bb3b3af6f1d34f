-- Components in a flapping incident now, on every host (PostgreSQL version of the local view): since
-- when, how often the breaker opened during it, how many recovery actions it took, whether it escalated.
CREATE VIEW flapping_components AS
SELECT i.host,
       c.name AS component,
       i.id AS incident_id,
       healerd_iso(i.opened_at) AS flapping_since,
       healerd_round(healerd_now() - i.opened_at) AS flapping_for_s,
       (SELECT count(*) FROM breaker_transitions AS t
         WHERE t.host = i.host AND t.component_id = i.component_id AND t.to_state = 'open'
           AND t.ts >= i.opened_at) AS breaker_opens,
       (SELECT count(*) FROM recovery_events AS r
         WHERE r.host = i.host AND r.incident_id = i.id AND NOT r.dry_run) AS actions,
       CASE WHEN EXISTS (SELECT 1 FROM escalations AS e
                          WHERE e.host = i.host AND e.incident_id = i.id AND e.kind = 'initial')
            THEN 1 ELSE 0 END AS escalated,
       b.state AS breaker_state
  FROM incidents AS i
  JOIN components AS c ON c.host = i.host AND c.id = i.component_id
  LEFT JOIN breakers AS b ON b.host = i.host AND b.component_id = i.component_id
 WHERE i.status = 'open' AND i.trigger = 'flapping'
 ORDER BY i.opened_at, i.host, i.id;
