-- Per component name across the fleet: checks and availability over the last 24 hours, all hosts
-- together, and the worst host's availability (from each host's component_availability_24h).
-- Checks taken in maintenance are left out as on each host: the fleet figure weighs each host's
-- availability_pct by the checks it counted (checks − maintenance_checks).
CREATE VIEW fleet_availability_24h AS
SELECT a.component,
       count(*) AS hosts,
       sum(a.checks) AS checks,
       CASE WHEN sum(a.checks - a.maintenance_checks) = 0 THEN NULL
            ELSE healerd_round(sum(a.availability_pct * (a.checks - a.maintenance_checks))
                               / sum(a.checks - a.maintenance_checks)) END AS availability_pct,
       min(a.availability_pct) AS worst_host_pct,
       (array_agg(a.host ORDER BY a.availability_pct ASC NULLS LAST))[1] AS worst_host,
       sum(a.unhealthy) AS unhealthy,
       sum(a.unknown) AS unknown,
       sum(a.maintenance_checks) AS maintenance_checks,
       min(a.since) AS since
  FROM component_availability_24h AS a
 GROUP BY a.component
 ORDER BY a.component;
