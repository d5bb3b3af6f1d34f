-- Per component and ladder strategy: how often each kind of repair ran, how often it healed, how long to verified health.
-- Counted: finished, real (not dry-run) recovery events still kept; `failback` is a fallback step's
-- deactivate (the switch back to the primary), shown apart from the fallback that activated a standby.
-- attempts = succeeded + failed + interrupted; success_pct = succeeded / attempts;
-- median_to_verified_s / max_to_verified_s: seconds from the step's start to the check that verified
-- it (succeeded steps only); `in_progress` counts steps still running.
-- Read from recovery_outcomes (one row per group, median and maximum included), kept by triggers on
-- recovery_events and recovery_verified, instead of sorting a year of events per report (issue 11).
CREATE VIEW recovery_ladder_outcomes AS
SELECT c.name AS component,
       k.strategy,
       k.succeeded + k.failed + k.interrupted AS attempts,
       k.succeeded,
       k.failed,
       k.interrupted,
       CASE WHEN k.succeeded + k.failed + k.interrupted = 0 THEN NULL
            ELSE round(100.0 * k.succeeded / (k.succeeded + k.failed + k.interrupted), 3) END AS success_pct,
       round(k.median_to_verified_s, 3) AS median_to_verified_s,
       round(k.max_to_verified_s, 3) AS max_to_verified_s,
       k.in_progress,
       strftime('%Y-%m-%dT%H:%M:%fZ', k.last_started_at, 'unixepoch') AS last_attempt_at
  FROM recovery_outcomes AS k
  JOIN components AS c ON c.id = k.component_id
 ORDER BY c.name, k.strategy;
