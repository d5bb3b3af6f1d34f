-- One row per configured component: its latest check, breaker state and open incident.
-- `status` is the latest result's status, or 'unknown' when there is no result or the latest is older
-- than three check intervals (the staleness rule of the health score); `last_status` is the raw value.
-- Times are ISO 8601 UTC; ages are seconds measured against the real clock.
CREATE VIEW current_system_status AS
WITH latest AS (
    SELECT c.id AS component_id,
           (SELECT r.id
              FROM check_results AS r
             WHERE r.component_id = c.id
             ORDER BY r.ts DESC, r.id DESC
             LIMIT 1) AS result_id
      FROM components AS c
     WHERE c.removed_at IS NULL
)
SELECT c.name AS component,
       CASE
           WHEN r.id IS NULL THEN 'unknown'
           WHEN (julianday('now') - 2440587.5) * 86400.0 - r.ts > 3 * c.every_s THEN 'unknown'
           ELSE r.status
       END AS status,
       r.status AS last_status,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.ts, 'unixepoch') AS last_check_at,
       round((julianday('now') - 2440587.5) * 86400.0 - r.ts, 3) AS age_s,
       r.latency_ms,
       r.error_class,
       r.message,
       coalesce(b.state, 'closed') AS breaker_state,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.since, 'unixepoch') AS breaker_since,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.open_until, 'unixepoch') AS open_until,
       i.id AS incident_id,
       c.weight
  FROM latest AS l
  JOIN components AS c ON c.id = l.component_id
  LEFT JOIN check_results AS r ON r.id = l.result_id
  LEFT JOIN breakers AS b ON b.component_id = c.id
  LEFT JOIN incidents AS i ON i.component_id = c.id AND i.status = 'open'
 ORDER BY c.name;
