-- Every feature flag on every host, on or off and why (PostgreSQL version of the local view).
CREATE VIEW feature_flags AS
SELECT f.host,
       f.name,
       CASE WHEN f.enabled THEN 'on' ELSE 'off' END AS state,
       CASE WHEN f.enabled THEN 1 ELSE 0 END AS enabled,
       f.reason,
       healerd_iso(f.updated_at) AS updated_at
  FROM feature_flag_state AS f
 ORDER BY f.host, f.name;
