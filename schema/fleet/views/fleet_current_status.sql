-- Per component name across the fleet: on how many hosts it runs and how many are healthy, degraded,
-- unhealthy or unknown right now, how many breakers are not closed, and which hosts are unhealthy.
CREATE VIEW fleet_current_status AS
SELECT s.component,
       count(*) AS hosts,
       count(*) FILTER (WHERE s.status = 'healthy') AS healthy,
       count(*) FILTER (WHERE s.status = 'degraded') AS degraded,
       count(*) FILTER (WHERE s.status = 'unhealthy') AS unhealthy,
       count(*) FILTER (WHERE s.status = 'unknown') AS unknown,
       count(*) FILTER (WHERE s.breaker_state <> 'closed') AS breakers_not_closed,
       count(*) FILTER (WHERE s.incident_id IS NOT NULL) AS open_incidents,
       string_agg(s.host, ',' ORDER BY s.host) FILTER (WHERE s.status IN ('unhealthy', 'unknown')) AS hosts_failing
  FROM current_system_status AS s
 GROUP BY s.component
 ORDER BY count(*) FILTER (WHERE s.status IN ('unhealthy', 'unknown')) DESC, s.component;
