-- Maintenance windows and silences: each occurrence, whom it covers, why, and whether it is in force.
-- `component` is '*' for every component; `kind` is window (from [[maintenance]]) or silence
-- (`healerd silence`); `ended_at` is the planned end or the operator's early clear, whichever came
-- first; `active` is 1 while it holds (checks run and are recorded; no actions, no escalations).
CREATE VIEW maintenance_windows AS
SELECT m.id,
       coalesce(c.name, '*') AS component,
       m.kind,
       m.name,
       m.reason,
       strftime('%Y-%m-%dT%H:%M:%fZ', m.starts_at, 'unixepoch') AS starts_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', min(m.ends_at, coalesce(m.cleared_at, m.ends_at)), 'unixepoch') AS ended_at,
       CASE WHEN m.cleared_at IS NOT NULL AND m.cleared_at < m.ends_at THEN 1 ELSE 0 END AS cleared_early,
       CASE WHEN m.starts_at <= (julianday('now') - 2440587.5) * 86400.0
                 AND min(m.ends_at, coalesce(m.cleared_at, m.ends_at)) > (julianday('now') - 2440587.5) * 86400.0
            THEN 1 ELSE 0 END AS active
  FROM maintenance_periods AS m
  LEFT JOIN components AS c ON c.id = m.component_id
 ORDER BY m.starts_at DESC, m.id DESC;
