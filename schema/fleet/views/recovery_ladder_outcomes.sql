-- Per host, component and strategy: attempts, successes and time to a verified recovery (PostgreSQL version).
CREATE VIEW recovery_ladder_outcomes AS
WITH events AS (
    SELECT e.host,
           e.component_id,
           CASE WHEN e.strategy = 'fallback' AND e.action = 'deactivate' THEN 'failback' ELSE e.strategy END AS strategy,
           e.status,
           e.started_at,
           CASE WHEN e.status = 'succeeded' AND e.verified_at IS NOT NULL
                THEN e.verified_at - e.started_at END AS to_verified_s
      FROM recovery_events AS e
     WHERE NOT e.dry_run
       AND e.status <> 'skipped'
),
counts AS (
    SELECT host,
           component_id,
           strategy,
           count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'interrupted')) AS attempts,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
           count(*) FILTER (WHERE status = 'started') AS in_progress,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY to_verified_s) AS median_s,
           max(to_verified_s) AS max_s,
           max(started_at) AS last_started_at
      FROM events
     GROUP BY host, component_id, strategy
)
SELECT k.host,
       c.name AS component,
       k.strategy,
       k.attempts,
       k.succeeded,
       k.failed,
       k.interrupted,
       CASE WHEN k.attempts = 0 THEN NULL ELSE healerd_round(100.0 * k.succeeded / k.attempts) END AS success_pct,
       healerd_round(k.median_s) AS median_to_verified_s,
       healerd_round(k.max_s) AS max_to_verified_s,
       k.in_progress,
       healerd_iso(k.last_started_at) AS last_attempt_at
  FROM counts AS k
  JOIN components AS c ON c.host = k.host AND c.id = k.component_id
 ORDER BY k.host, c.name, k.strategy;
