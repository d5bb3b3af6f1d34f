-- Availability per configured component over the last 7 days (this hour and the 167 before).
-- Same columns and rules as component_availability_24h.
-- Read from the rollups, never raw results (issue 11): whole UTC days from result_rollups_daily (kept
-- from the hourly rollups by triggers), and only the hours of the window's first, partial day from
-- result_rollups_hourly — at most 23 hourly rows per component, none at 23:00 UTC. The hourly part
-- range-scans the (hour, component_id) key over those hours (`bounds CROSS JOIN` keeps that order;
-- `+component_id` keeps the component_id index out), never the year behind them. The daily part walks
-- the components in rowid order (`NOT INDEXED`, first in the join) and each one's days through the
-- (component_id, day) key, so its rows arrive grouped and nothing is sorted. The two parts (at most
-- 2 rows per component) are then added together.
CREATE VIEW component_availability_7d AS
WITH bounds AS (
    SELECT first_hour, (first_hour + 86399) / 86400 * 86400 AS first_day
      FROM (SELECT CAST(((julianday('now') - 2440587.5) * 86400.0) / 3600 AS INTEGER) * 3600 - 167 * 3600
                   AS first_hour)
),
parts AS (
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
     WHERE h.hour >= bounds.first_hour AND h.hour < bounds.first_day
     GROUP BY +h.component_id
    UNION ALL
    SELECT c.id,
           sum(d.total),
           sum(d.healthy),
           sum(d.degraded),
           sum(d.unhealthy),
           sum(d.unknown),
           sum(d.injected),
           sum(d.maintenance),
           sum(d.maintenance_up),
           sum(d.latency_sum_ms),
           min(d.latency_min_ms),
           max(d.latency_max_ms)
      FROM components AS c NOT INDEXED
     CROSS JOIN bounds
     CROSS JOIN result_rollups_daily AS d
     WHERE c.removed_at IS NULL AND d.component_id = c.id AND d.day >= bounds.first_day
     GROUP BY c.id
),
sums AS (
    SELECT component_id,
           sum(checks) AS checks,
           sum(healthy) AS healthy,
           sum(degraded) AS degraded,
           sum(unhealthy) AS unhealthy,
           sum(unknown) AS unknown,
           sum(injected) AS injected,
           sum(maintenance) AS maintenance,
           sum(maintenance_up) AS maintenance_up,
           sum(latency_sum_ms) AS latency_sum_ms,
           min(latency_min_ms) AS latency_min_ms,
           max(latency_max_ms) AS latency_max_ms
      FROM parts
     GROUP BY component_id
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
