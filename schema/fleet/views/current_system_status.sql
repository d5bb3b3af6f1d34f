-- Every component on every host: health from its latest result, breaker, open incident (PostgreSQL version).
CREATE VIEW current_system_status AS
SELECT c.host,
       c.name AS component,
       CASE
           WHEN r.id IS NULL THEN 'unknown'
           WHEN healerd_now() - r.ts > 3 * c.every_s THEN 'unknown'
           ELSE r.status
       END AS status,
       r.status AS last_status,
       healerd_iso(r.ts) AS last_check_at,
       healerd_round(healerd_now() - r.ts) AS age_s,
       r.latency_ms,
       r.error_class,
       r.message,
       coalesce(b.state, 'closed') AS breaker_state,
       healerd_iso(b.since) AS breaker_since,
       healerd_iso(b.open_until) AS open_until,
       i.id AS incident_id,
       c.weight
  FROM components AS c
  LEFT JOIN LATERAL (SELECT x.*
                       FROM check_results AS x
                      WHERE x.host = c.host AND x.component_id = c.id
                      ORDER BY x.ts DESC, x.id DESC
                      LIMIT 1) AS r ON true
  LEFT JOIN breakers AS b ON b.host = c.host AND b.component_id = c.id
  LEFT JOIN incidents AS i ON i.host = c.host AND i.component_id = c.id AND i.status = 'open'
 WHERE c.removed_at IS NULL
 ORDER BY c.host, c.name;
