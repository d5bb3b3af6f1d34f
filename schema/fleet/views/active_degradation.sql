-- Each host's degradation level in force, why, and which feature flags are off (PostgreSQL version).
CREATE VIEW active_degradation AS
SELECT s.host,
       CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL OR s.override_until > healerd_now())
            THEN s.override_level ELSE s.level END AS level,
       s.level AS computed_level,
       healerd_round(s.score) AS score,
       s.unknown_count,
       healerd_iso(s.since) AS since,
       CASE WHEN s.override_level IS NOT NULL
                 AND (s.override_until IS NULL OR s.override_until > healerd_now())
            THEN 1 ELSE 0 END AS override_active,
       s.override_level,
       healerd_iso(s.override_until) AS override_until,
       s.override_reason,
       s.pending_level,
       healerd_iso(s.pending_since) AS pending_since,
       (SELECT string_agg(f.name, ',' ORDER BY f.name)
          FROM feature_flag_state AS f
         WHERE f.host = s.host AND NOT f.enabled) AS disabled_flags,
       healerd_iso(s.updated_at) AS updated_at
  FROM degradation_state AS s
 WHERE s.id = 1
 ORDER BY s.host;
