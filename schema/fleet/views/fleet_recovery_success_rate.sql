-- Per component name across the fleet: recovery attempts of the last 24 hours, successes, and on how
-- many hosts it was healed (from each host's recovery_success_rate).
CREATE VIEW fleet_recovery_success_rate AS
SELECT r.component,
       count(*) AS hosts,
       sum(r.attempts) AS attempts,
       sum(r.succeeded) AS succeeded,
       sum(r.failed) AS failed,
       sum(r.interrupted) AS interrupted,
       CASE WHEN sum(r.attempts) = 0 THEN NULL
            ELSE healerd_round(100.0 * sum(r.succeeded) / sum(r.attempts)) END AS success_pct,
       sum(r.in_progress) AS in_progress,
       max(r.last_attempt_at) AS last_attempt_at
  FROM recovery_success_rate AS r
 GROUP BY r.component
 ORDER BY r.component;
