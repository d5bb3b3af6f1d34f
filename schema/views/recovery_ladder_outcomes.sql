-- Per component and ladder strategy: how often each kind of repair ran, how often it healed, how long to verified health.
-- Counted: finished, real (not dry-run) recovery events of all time; `failback` is a fallback step's
-- deactivate (the switch back to the primary), shown apart from the fallback that activated a standby.
-- attempts = succeeded + failed + interrupted; success_pct = succeeded / attempts;
-- median_to_verified_s / max_to_verified_s: seconds from the step's start to the check that verified
-- it (succeeded steps only); `in_progress` counts steps still running.
CREATE VIEW recovery_ladder_outcomes AS
WITH events AS (
    SELECT e.component_id,
           CASE WHEN e.strategy = 'fallback' AND e.action = 'deactivate' THEN 'failback' ELSE e.strategy END AS strategy,
           e.status,
           e.started_at,
           CASE WHEN e.status = 'succeeded' AND e.verified_at IS NOT NULL
                THEN e.verified_at - e.started_at END AS to_verified_s
      FROM recovery_events AS e
     WHERE e.dry_run = 0
       AND e.status <> 'skipped'
),
ranked AS (
    SELECT component_id,
           strategy,
           to_verified_s,
           row_number() OVER (PARTITION BY component_id, strategy ORDER BY to_verified_s) AS rn,
           count(*) OVER (PARTITION BY component_id, strategy) AS n
      FROM events
     WHERE to_verified_s IS NOT NULL
),
medians AS (
    SELECT component_id, strategy, avg(to_verified_s) AS median_s
      FROM ranked
     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
     GROUP BY component_id, strategy
),
counts AS (
    SELECT component_id,
           strategy,
           sum(status IN ('succeeded', 'failed', 'interrupted')) AS attempts,
           sum(status = 'succeeded') AS succeeded,
           sum(status = 'failed') AS failed,
           sum(status = 'interrupted') AS interrupted,
           sum(status = 'started') AS in_progress,
           max(to_verified_s) AS max_s,
           max(started_at) AS last_started_at
      FROM events
     GROUP BY component_id, strategy
)
SELECT c.name AS component,
       k.strategy,
       k.attempts,
       k.succeeded,
       k.failed,
       k.interrupted,
       CASE WHEN k.attempts = 0 THEN NULL ELSE round(100.0 * k.succeeded / k.attempts, 3) END AS success_pct,
       round(m.median_s, 3) AS median_to_verified_s,
       round(k.max_s, 3) AS max_to_verified_s,
       k.in_progress,
       strftime('%Y-%m-%dT%H:%M:%fZ', k.last_started_at, 'unixepoch') AS last_attempt_at
  FROM counts AS k
  JOIN components AS c ON c.id = k.component_id
  LEFT JOIN medians AS m ON m.component_id = k.component_id AND m.strategy = k.strategy
 ORDER BY c.name, k.strategy;
