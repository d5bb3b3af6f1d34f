-- What is broken and where: fleet incidents (a shared cause across hosts, `scope` = fleet) and every
-- host's own open incidents (`scope` = host), oldest first.
CREATE VIEW fleet_open_incidents AS
SELECT 'fleet' AS scope,
       f.id AS incident_id,
       NULL AS host,
       f.component,
       healerd_iso(f.opened_at) AS opened_at,
       healerd_round(healerd_now() - f.opened_at) AS age_s,
       f.hosts_open || '/' || f.hosts_total AS hosts,
       f.reason,
       NULL AS waiting_on,
       NULL AS acked_at
  FROM fleet_incidents AS f
 WHERE f.status = 'open'
UNION ALL
SELECT 'host',
       i.id,
       i.host,
       c.name,
       healerd_iso(i.opened_at),
       healerd_round(healerd_now() - i.opened_at),
       NULL,
       i.trigger,
       i.waiting_on,
       healerd_iso(i.acked_at)
  FROM incidents AS i
  JOIN components AS c ON c.host = i.host AND c.id = i.component_id
 WHERE i.status = 'open'
 ORDER BY 5, 1, 3, 4;
