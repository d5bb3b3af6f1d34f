-- Failed checks (unhealthy or unknown) of the last hour, newest first.
-- Degraded results passed (only slowly) and are not listed; `injected` = 1 marks a chaos experiment's
-- fault rather than a real failure.
CREATE VIEW recent_health_failures AS
SELECT strftime('%Y-%m-%dT%H:%M:%fZ', r.ts, 'unixepoch') AS ts,
       c.name AS component,
       r.status,
       r.error_class,
       r.latency_ms,
       r.message,
       r.injected
  FROM check_results AS r
  JOIN components AS c ON c.id = r.component_id
 WHERE r.ts >= (julianday('now') - 2440587.5) * 86400.0 - 3600
   AND r.status IN ('unhealthy', 'unknown')
 ORDER BY r.ts DESC, r.id DESC;
