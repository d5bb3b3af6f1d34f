-- Unhealthy and unknown results of the last hour on every host, newest first (PostgreSQL version).
CREATE VIEW recent_health_failures AS
SELECT r.host,
       healerd_iso(r.ts) AS ts,
       c.name AS component,
       r.status,
       r.error_class,
       r.latency_ms,
       r.message,
       CASE WHEN r.injected THEN 1 ELSE 0 END AS injected
  FROM check_results AS r
  JOIN components AS c ON c.host = r.host AND c.id = r.component_id
 WHERE r.ts >= healerd_now() - 3600
   AND r.status IN ('unhealthy', 'unknown')
 ORDER BY r.ts DESC, r.host, r.id DESC;
