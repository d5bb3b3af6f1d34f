-- Availability per configured component over the last 24 hourly rollups (this hour and the 23 before).
-- Read from result_rollups_hourly, not raw results: it stays cheap however many results are kept.
-- availability_pct counts healthy and degraded checks as up (degraded = passed, but slowly);
-- healthy_pct counts healthy only. Both are NULL for a component without checks in the window.
-- Checks taken in a maintenance window or silence (maintenance_checks) are left out of both fractions
-- (and of checks_counted): planned downtime is not an outage.
-- `bounds CROSS JOIN` (SQLite keeps the written order) and `GROUP BY +component_id` (no index may serve
-- the grouping) make SQLite range-scan the (hour, component_id) key over the window's 24k rows instead of
-- walking all 400 days through the component_id index (~25 s at 1,000 components; issue 11).
CREATE VIEW component_availability_24h AS
WITH bounds AS (
    SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 23 * 3600
           AS first_hour
),
sums AS (
    SELECT h.component_id,
           sum(h.total) AS checks,
           sum(h.healthy) AS healthy,
           sum(h.degraded) AS degraded,
           sum(h.unhealthy) AS unhealthy,
           sum(h.unknown) AS unknown,
           sum(h.injected) AS injected,
           sum(h.maintenance) AS maintenance,
           sum(h.maintenance_up) AS maintenance_up,
           sum(h.latency_sum_ms) AS latency_sum_ms,
           min(h.latency_min_ms) AS latency_min_ms,
           max(h.latency_max_ms) AS latency_max_ms
      FROM bounds
     CROSS JOIN result_rollups_hourly AS h
     WHERE h.hour >= bounds.first_hour
     GROUP BY +h.component_id
)
SELECT c.name AS component,
       coalesce(s.checks, 0) AS checks,
       coalesce(s.healthy, 0) AS healthy,
       coalesce(s.degraded, 0) AS degraded,
       coalesce(s.unhealthy, 0) AS unhealthy,
       coalesce(s.unknown, 0) AS unknown,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * (s.healthy + s.degraded - s.maintenance_up) / (s.checks - s.maintenance), 3)
       END AS availability_pct,
       CASE WHEN coalesce(s.checks, 0) - coalesce(s.maintenance, 0) <= 0 THEN NULL
            ELSE round(100.0 * max(s.healthy - s.maintenance_up, 0) / (s.checks - s.maintenance), 3)
       END AS healthy_pct,
       CASE WHEN coalesce(s.checks, 0) = 0 THEN NULL
            ELSE round(s.latency_sum_ms / s.checks, 3) END AS avg_latency_ms,
       s.latency_min_ms AS min_latency_ms,
       s.latency_max_ms AS max_latency_ms,
       coalesce(s.injected, 0) AS injected,
       coalesce(s.maintenance, 0) AS maintenance_checks,
       strftime('%Y-%m-%dT%H:%M:%fZ', bounds.first_hour, 'unixepoch') AS since
  FROM components AS c
 CROSS JOIN bounds
  LEFT JOIN sums AS s ON s.component_id = c.id
 WHERE c.removed_at IS NULL
 ORDER BY c.name;
