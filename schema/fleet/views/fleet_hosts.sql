-- Every host that ever shipped: when it was last seen, its shipping lag, healerd version and schema.
-- `stale` is 1 when the host has not reached the centre for 5 minutes (down, partitioned or gone).
CREATE VIEW fleet_hosts AS
SELECT h.host,
       healerd_iso(h.last_seen) AS last_seen,
       healerd_round(healerd_now() - h.last_seen) AS seen_s_ago,
       CASE WHEN healerd_now() - h.last_seen > 300 THEN 1 ELSE 0 END AS stale,
       healerd_round(h.lag_s) AS lag_s,
       h.version,
       h.local_revision,
       h.rows_shipped,
       (SELECT count(*) FROM components AS c WHERE c.host = h.host AND c.removed_at IS NULL) AS components,
       (SELECT count(*) FROM breakers AS b
          JOIN components AS c ON c.host = b.host AND c.id = b.component_id
         WHERE b.host = h.host AND c.removed_at IS NULL AND b.state <> 'closed') AS breakers_not_closed,
       healerd_iso(h.first_seen) AS first_seen
  FROM fleet_hosts_info AS h
 ORDER BY h.host;
