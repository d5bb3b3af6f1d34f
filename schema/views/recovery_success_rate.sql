-- Recovery attempts per component over the last 24 hours and the share that healed the component.
-- Counted: finished, real (not dry-run) retry/restore/fallback steps. Escalations notify rather than
-- repair and are left out; skipped steps never ran. success_pct = succeeded / (succeeded + failed +
-- interrupted); `in_progress` counts steps still running.
CREATE VIEW recovery_success_rate AS
SELECT c.name AS component,
       sum(e.status IN ('succeeded', 'failed', 'interrupted')) AS attempts,
       sum(e.status = 'succeeded') AS succeeded,
       sum(e.status = 'failed') AS failed,
       sum(e.status = 'interrupted') AS interrupted,
       CASE WHEN sum(e.status IN ('succeeded', 'failed', 'interrupted')) = 0 THEN NULL
            ELSE round(100.0 * sum(e.status = 'succeeded')
                       / sum(e.status IN ('succeeded', 'failed', 'interrupted')), 3) END AS success_pct,
       sum(e.status = 'started') AS in_progress,
       strftime('%Y-%m-%dT%H:%M:%fZ', max(e.started_at), 'unixepoch') AS last_attempt_at
  FROM recovery_events AS e
  JOIN components AS c ON c.id = e.component_id
 WHERE e.started_at >= (julianday('now') - 2440587.5) * 86400.0 - 86400
   AND e.strategy <> 'escalate'
   AND e.status <> 'skipped'
   AND e.dry_run = 0
 GROUP BY c.name
 ORDER BY c.name;
