-- Per host and component: checks and availability over the last 7 days, from the shipped raw results.
-- The window is the local view's: since the start of the hour 167 hours ago. The local view reads
-- daily and hourly rollups; the centre counts raw results (through the (host, component_id, ts) index's
-- ts order), so it reads every result of the week: keep the centre's raw history no longer than needed.
-- Same columns and rules as the local view: availability_pct counts healthy and degraded checks as up,
-- healthy_pct healthy only, and checks taken in a maintenance window or silence (maintenance_checks)
-- are left out of both fractions. Raw results carry each check's own flag, so healthy_pct here leaves out
-- exactly the healthy checks taken in maintenance (the local rollups only count maintenance checks that
-- were up, healthy or degraded, and subtract those from healthy).
CREATE VIEW component_availability_7d AS
WITH bounds AS (
    SELECT floor(healerd_now() / 3600) * 3600 - 167 * 3600 AS first_hour
),
sums AS (
    SELECT r.host,
           r.component_id,
           count(*) AS checks,
           count(*) FILTER (WHERE r.status = 'healthy') AS healthy,
           count(*) FILTER (WHERE r.status = 'degraded') AS degraded,
           count(*) FILTER (WHERE r.status = 'unhealthy') AS unhealthy,
           count(*) FILTER (WHERE r.status = 'unknown') AS unknown,
           count(*) FILTER (WHERE r.injected) AS injected,
           count(*) FILTER (WHERE r.maintenance) AS maintenance,
           count(*) FILTER (WHERE NOT r.maintenance) AS counted,
           count(*) FILTER (WHERE NOT r.maintenance AND r.status IN ('healthy', 'degraded')) AS counted_up,
           count(*) FILTER (WHERE NOT r.maintenance AND r.status = 'healthy') AS counted_healthy,
           sum(coalesce(r.latency_ms, 0)) AS latency_sum_ms,
           min(r.latency_ms) AS latency_min_ms,
           max(r.latency_ms) AS latency_max_ms
      FROM check_results AS r, bounds
     WHERE r.ts >= bounds.first_hour
     GROUP BY r.host, r.component_id
)
SELECT c.host,
       c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.counted, 0) = 0 THEN NULL
            ELSE healerd_round(100.0 * s.counted_up / s.counted) END AS availability_pct,
       CASE WHEN coalesce(s.counted, 0) = 0 THEN NULL
            ELSE healerd_round(100.0 * s.counted_healthy / s.counted) END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE healerd_round(s.latency_sum_ms / s.checks) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       coalesce(s.maintenance, 0) AS maintenance_checks,
       healerd_iso(bounds.first_hour) AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.host = c.host AND s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.host, c.name;
