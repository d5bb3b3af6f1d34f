-- The degradation level in force, why, and which feature flags are off (one row once scored).
-- `level` is the operator's override while it lasts (no `override_until` = until cleared), otherwise
-- the level computed from the health score (`computed_level`); `pending_level` is where hysteresis is
-- heading and since when.
CREATE VIEW active_degradation AS
SELECT CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL
                      OR s.override_until > (julianday('now') - 2440587.5) * 86400.0)
            THEN s.override_level ELSE s.level END AS level,
       s.level AS computed_level,
       round(s.score, 3) AS score,
       s.unknown_count,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.since, 'unixepoch') AS since,
       CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL
                      OR s.override_until > (julianday('now') - 2440587.5) * 86400.0)
            THEN 1 ELSE 0 END AS override_active,
       s.override_level,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.override_until, 'unixepoch') AS override_until,
       s.override_reason,
       s.pending_level,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.pending_since, 'unixepoch') AS pending_since,
       (SELECT group_concat(f.name, ',')
          FROM (SELECT name FROM feature_flag_state WHERE enabled = 0 ORDER BY name) AS f) AS disabled_flags,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.updated_at, 'unixepoch') AS updated_at
  FROM degradation_state AS s
 WHERE s.id = 1;
