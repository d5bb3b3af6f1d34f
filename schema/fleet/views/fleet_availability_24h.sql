-- Per component name across the fleet: checks and availability over the last 24 hours, all hosts
-- together, and the worst host's availability (from each host's component_availability_24h).
CREATE VIEW fleet_availability_24h AS
SELECT a.component,
       count(*) AS hosts,
       sum(a.checks) AS checks,
       CASE WHEN sum(a.checks) = 0 THEN NULL
            ELSE healerd_round(100.0 * sum(a.healthy + a.degraded) / sum(a.checks)) END AS availability_pct,
       min(a.availability_pct) AS worst_host_pct,
       (array_agg(a.host ORDER BY a.availability_pct ASC NULLS LAST))[1] AS worst_host,
       sum(a.unhealthy) AS unhealthy,
       sum(a.unknown) AS unknown,
       min(a.since) AS since
  FROM component_availability_24h AS a
 GROUP BY a.component
 ORDER BY a.component;
