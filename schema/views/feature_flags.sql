-- Feature flags as applications and operators read them: on or off, why, and since when.
-- A flag turns off at its `off_at` level (and every worse one), when a flag it depends on is off, or
-- while one of its components is down; `reason` says which. The same data is published in state.json.
CREATE VIEW feature_flags AS
SELECT f.name,
       CASE WHEN f.enabled THEN 'on' ELSE 'off' END AS state,
       f.enabled,
       f.reason,
       strftime('%Y-%m-%dT%H:%M:%fZ', f.updated_at, 'unixepoch') AS updated_at
  FROM feature_flag_state AS f
 ORDER BY f.name;
