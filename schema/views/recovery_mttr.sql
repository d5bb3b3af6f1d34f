-- Mean time to recovery per component: seconds from a closed breaker opening to its next close.
-- Re-opens from half-open belong to the same outage. `recoveries` counts finished outages (the mean,
-- median, min and max are over those); `open_since` is set while an outage is still going on.
-- Read from breaker_outage_stats (one row per component, recomputed from breaker_outages whenever an
-- outage closes or is pruned) and, for open_since, one index seek per component: pairing every open
-- with its close at query time was quadratic, seconds at a year of history (issue 11).
CREATE VIEW recovery_mttr AS
WITH listed AS (
    SELECT c.name,
           s.component_id AS has_stats,
           s.recoveries,
           s.mean_s,
           s.median_s,
           s.min_s,
           s.max_s,
           s.last_closed_at,
           (SELECT max(o.opened_at)
              FROM breaker_outages AS o
             WHERE o.component_id = c.id AND o.seconds IS NULL) AS open_since
      FROM components AS c
      LEFT JOIN breaker_outage_stats AS s ON s.component_id = c.id
)
SELECT name AS component,
       coalesce(recoveries, 0) AS recoveries,
       round(mean_s, 3) AS mean_s,
       round(median_s, 3) AS median_s,
       round(min_s, 3) AS min_s,
       round(max_s, 3) AS max_s,
       strftime('%Y-%m-%dT%H:%M:%fZ', last_closed_at, 'unixepoch') AS last_recovered_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', open_since, 'unixepoch') AS open_since
  FROM listed
 WHERE has_stats IS NOT NULL OR open_since IS NOT NULL
 ORDER BY name;
