-- Per host and component: recovery attempts of the last 24 hours and how many succeeded (PostgreSQL version).
CREATE VIEW recovery_success_rate AS
SELECT e.host,
       c.name AS component,
       count(*) FILTER (WHERE e.status IN ('succeeded', 'failed', 'interrupted')) AS attempts,
       count(*) FILTER (WHERE e.status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE e.status = 'failed') AS failed,
       count(*) FILTER (WHERE e.status = 'interrupted') AS interrupted,
       CASE WHEN count(*) FILTER (WHERE e.status IN ('succeeded', 'failed', 'interrupted')) = 0 THEN NULL
            ELSE healerd_round(100.0 * count(*) FILTER (WHERE e.status = 'succeeded')
                               / count(*) FILTER (WHERE e.status IN ('succeeded', 'failed', 'interrupted'))) END
           AS success_pct,
       count(*) FILTER (WHERE e.status = 'started') AS in_progress,
       healerd_iso(max(e.started_at)) AS last_attempt_at
  FROM recovery_events AS e
  JOIN components AS c ON c.host = e.host AND c.id = e.component_id
 WHERE e.started_at >= healerd_now() - 86400
   AND e.strategy <> 'escalate'
   AND e.status <> 'skipped'
   AND NOT e.dry_run
 GROUP BY e.host, c.name
 ORDER BY e.host, c.name;
