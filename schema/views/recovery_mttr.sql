-- Mean time to recovery per component: seconds from a closed breaker opening to its next close.
-- Re-opens from half-open belong to the same outage. `recoveries` counts finished outages (the mean,
-- median, min and max are over those); `open_since` is set while an outage is still going on.
-- Read from breaker_outages (one row per outage, kept by triggers on breaker_transitions) through its
-- (component_id, seconds) index: one ordered walk, where pairing every open with its close at query
-- time was quadratic (seconds at a year of history; issue 11).
CREATE VIEW recovery_mttr AS
WITH stats AS (
    SELECT component_id,
           count(*) AS recoveries,
           avg(seconds) AS mean_s,
           min(seconds) AS min_s,
           max(seconds) AS max_s,
           max(closed_at) AS last_closed_at
      FROM breaker_outages
     WHERE seconds IS NOT NULL
     GROUP BY component_id
),
listed AS (
    SELECT c.id AS component_id,
           c.name,
           s.recoveries,
           s.mean_s,
           s.min_s,
           s.max_s,
           s.last_closed_at,
           (SELECT max(o.opened_at)
              FROM breaker_outages AS o
             WHERE o.component_id = c.id AND o.seconds IS NULL) AS open_since
      FROM components AS c
      LEFT JOIN stats AS s ON s.component_id = c.id
)
SELECT l.name AS component,
       coalesce(l.recoveries, 0) AS recoveries,
       round(l.mean_s, 3) AS mean_s,
       round((SELECT avg(r.seconds)
                FROM (SELECT o.seconds, row_number() OVER (ORDER BY o.seconds) AS rn
                        FROM breaker_outages AS o
                       WHERE o.component_id = l.component_id AND o.seconds IS NOT NULL) AS r
               WHERE r.rn IN ((l.recoveries + 1) / 2, (l.recoveries + 2) / 2)), 3) AS median_s,
       round(l.min_s, 3) AS min_s,
       round(l.max_s, 3) AS max_s,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.last_closed_at, 'unixepoch') AS last_recovered_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.open_since, 'unixepoch') AS open_since
  FROM listed AS l
 WHERE l.recoveries IS NOT NULL OR l.open_since IS NOT NULL
 ORDER BY l.name;
