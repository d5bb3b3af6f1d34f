-- Maintenance windows and silences on every host (PostgreSQL version of the local view): each occurrence,
-- whom it covers ('*': every component of that host), why, and whether it is in force. `ended_at` is the
-- planned end or the operator's early clear, whichever came first. `active` is judged by the centre's
-- clock on what the host shipped: a silence cleared on a host the centre has not heard from since still
-- shows as active (fleet_hosts says which hosts are stale).
CREATE VIEW maintenance_windows AS
SELECT m.host,
       m.id,
       coalesce(c.name, '*') AS component,
       m.kind,
       m.name,
       m.reason,
       healerd_iso(m.starts_at) AS starts_at,
       healerd_iso(least(m.ends_at, coalesce(m.cleared_at, m.ends_at))) AS ended_at,
       CASE WHEN m.cleared_at IS NOT NULL AND m.cleared_at < m.ends_at THEN 1 ELSE 0 END AS cleared_early,
       CASE WHEN m.starts_at <= healerd_now()
                 AND least(m.ends_at, coalesce(m.cleared_at, m.ends_at)) > healerd_now()
            THEN 1 ELSE 0 END AS active
  FROM maintenance_periods AS m
  LEFT JOIN components AS c ON c.host = m.host AND c.id = m.component_id
 ORDER BY m.starts_at DESC, m.host, m.id DESC;
