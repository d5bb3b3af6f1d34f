-- One row per chaos run, newest first: verdict, time to detect and to recover, and what it cost.
-- time_to_detect_s / time_to_recover_s are measured from the fault's injection to the breaker opening
-- / closing again; `recommendations` joins the run's advice for promises it missed.
CREATE VIEW chaos_experiment_results AS
SELECT r.id AS run_id,
       e.name AS experiment,
       e.target,
       r.verdict,
       r.reason,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.finished_at, 'unixepoch') AS finished_at,
       round(r.finished_at - r.started_at, 3) AS duration_s,
       round(r.detected_at - r.injected_at, 3) AS time_to_detect_s,
       round(r.recovered_at - r.injected_at, 3) AS time_to_recover_s,
       round(r.min_score, 3) AS min_score,
       r.max_level,
       r.dry_run,
       r.trigger,
       (SELECT group_concat(j.value, '; ') FROM json_each(r.recommendations) AS j) AS recommendations
  FROM chaos_runs AS r
  JOIN chaos_experiments AS e ON e.id = r.experiment_id
 ORDER BY r.started_at DESC, r.id DESC;
