-- Per component and ladder strategy: how often each kind of repair ran, how often it healed, how long to verified health.
-- Counted: finished, real (not dry-run) recovery events still kept; `failback` is a fallback step's
-- deactivate (the switch back to the primary), shown apart from the fallback that activated a standby.
-- attempts = succeeded + failed + interrupted; success_pct = succeeded / attempts;
-- median_to_verified_s / max_to_verified_s: seconds from the step's start to the check that verified
-- it (succeeded steps only); `in_progress` counts steps still running.
-- Read from recovery_outcomes / recovery_verified, kept by triggers on recovery_events, so the cost is
-- one row per group plus an index walk for the median, not a sort of a year of events (issue 11).
CREATE VIEW recovery_ladder_outcomes AS
SELECT c.name AS component,
       k.strategy,
       k.succeeded + k.failed + k.interrupted AS attempts,
       k.succeeded,
       k.failed,
       k.interrupted,
       CASE WHEN k.succeeded + k.failed + k.interrupted = 0 THEN NULL
            ELSE round(100.0 * k.succeeded / (k.succeeded + k.failed + k.interrupted), 3) END AS success_pct,
       round((SELECT avg(r.seconds)
                FROM (SELECT v.seconds,
                             row_number() OVER (ORDER BY v.seconds) AS rn,
                             count(*) OVER () AS n
                        FROM recovery_verified AS v
                       WHERE v.component_id = k.component_id AND v.strategy = k.strategy) AS r
               WHERE r.rn IN ((r.n + 1) / 2, (r.n + 2) / 2)), 3) AS median_to_verified_s,
       round((SELECT max(v.seconds)
                FROM recovery_verified AS v
               WHERE v.component_id = k.component_id AND v.strategy = k.strategy), 3) AS max_to_verified_s,
       k.in_progress,
       strftime('%Y-%m-%dT%H:%M:%fZ', k.last_started_at, 'unixepoch') AS last_attempt_at
  FROM recovery_outcomes AS k
  JOIN components AS c ON c.id = k.component_id
 ORDER BY c.name, k.strategy;
