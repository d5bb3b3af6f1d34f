-- Mean time to recovery per component: seconds from a closed breaker opening to its next close.
-- Re-opens from half-open belong to the same outage. `recoveries` counts finished outages (the mean,
-- median, min and max are over those); `open_since` is set while an outage is still going on.
CREATE VIEW recovery_mttr AS
WITH outages AS (
    SELECT o.component_id,
           o.ts AS opened_at,
           (SELECT min(x.ts)
              FROM breaker_transitions AS x
             WHERE x.component_id = o.component_id
               AND x.to_state = 'closed'
               AND (x.ts > o.ts OR (x.ts = o.ts AND x.id > o.id))) AS closed_at
      FROM breaker_transitions AS o
     WHERE o.to_state = 'open'
       AND o.from_state = 'closed'
),
durations AS (
    SELECT component_id, closed_at, closed_at - opened_at AS seconds
      FROM outages
     WHERE closed_at IS NOT NULL
),
ranked AS (
    SELECT component_id,
           seconds,
           row_number() OVER (PARTITION BY component_id ORDER BY seconds) AS rn,
           count(*) OVER (PARTITION BY component_id) AS n
      FROM durations
),
medians AS (
    SELECT component_id, avg(seconds) AS median_s
      FROM ranked
     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
     GROUP BY component_id
),
stats AS (
    SELECT component_id,
           count(*) AS recoveries,
           avg(seconds) AS mean_s,
           min(seconds) AS min_s,
           max(seconds) AS max_s,
           max(closed_at) AS last_closed_at
      FROM durations
     GROUP BY component_id
),
ongoing AS (
    SELECT component_id, max(opened_at) AS open_since
      FROM outages
     WHERE closed_at IS NULL
     GROUP BY component_id
)
SELECT c.name AS component,
       coalesce(s.recoveries, 0) AS recoveries,
       round(s.mean_s, 3) AS mean_s,
       round(m.median_s, 3) AS median_s,
       round(s.min_s, 3) AS min_s,
       round(s.max_s, 3) AS max_s,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.last_closed_at, 'unixepoch') AS last_recovered_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', g.open_since, 'unixepoch') AS open_since
  FROM components AS c
  LEFT JOIN stats AS s ON s.component_id = c.id
  LEFT JOIN medians AS m ON m.component_id = c.id
  LEFT JOIN ongoing AS g ON g.component_id = c.id
 WHERE s.component_id IS NOT NULL OR g.component_id IS NOT NULL
 ORDER BY c.name;
