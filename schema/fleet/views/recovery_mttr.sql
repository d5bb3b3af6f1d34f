-- Per host and component: how long outages lasted, breaker open → closed (PostgreSQL version).
CREATE VIEW recovery_mttr AS
WITH outages AS (
    SELECT o.host,
           o.component_id,
           o.ts AS opened_at,
           (SELECT min(x.ts)
              FROM breaker_transitions AS x
             WHERE x.host = o.host
               AND x.component_id = o.component_id
               AND x.to_state = 'closed'
               AND (x.ts > o.ts OR (x.ts = o.ts AND x.id > o.id))) AS closed_at
      FROM breaker_transitions AS o
     WHERE o.to_state = 'open'
       AND o.from_state = 'closed'
),
durations AS (
    SELECT host, component_id, closed_at, closed_at - opened_at AS seconds
      FROM outages
     WHERE closed_at IS NOT NULL
),
stats AS (
    SELECT host,
           component_id,
           count(*) AS recoveries,
           avg(seconds) AS mean_s,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_s,
           min(seconds) AS min_s,
           max(seconds) AS max_s,
           max(closed_at) AS last_closed_at
      FROM durations
     GROUP BY host, component_id
),
ongoing AS (
    SELECT host, component_id, max(opened_at) AS open_since
      FROM outages
     WHERE closed_at IS NULL
     GROUP BY host, component_id
)
SELECT c.host,
       c.name AS component,
       coalesce(s.recoveries, 0) AS recoveries,
       healerd_round(s.mean_s) AS mean_s,
       healerd_round(s.median_s) AS median_s,
       healerd_round(s.min_s) AS min_s,
       healerd_round(s.max_s) AS max_s,
       healerd_iso(s.last_closed_at) AS last_recovered_at,
       healerd_iso(g.open_since) AS open_since
  FROM components AS c
  LEFT JOIN stats AS s ON s.host = c.host AND s.component_id = c.id
  LEFT JOIN ongoing AS g ON g.host = c.host AND g.component_id = c.id
 WHERE s.component_id IS NOT NULL OR g.component_id IS NOT NULL
 ORDER BY c.host, c.name;
