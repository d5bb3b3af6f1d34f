-- Every chaos run on every host with its verdict and timings (PostgreSQL version of the local view).
CREATE VIEW chaos_experiment_results AS
SELECT r.host,
       r.id AS run_id,
       e.name AS experiment,
       e.target,
       r.verdict,
       r.reason,
       healerd_iso(r.started_at) AS started_at,
       healerd_iso(r.finished_at) AS finished_at,
       healerd_round(r.finished_at - r.started_at) AS duration_s,
       healerd_round(r.detected_at - r.injected_at) AS time_to_detect_s,
       healerd_round(r.recovered_at - r.injected_at) AS time_to_recover_s,
       healerd_round(r.min_score) AS min_score,
       r.max_level,
       CASE WHEN r.dry_run THEN 1 ELSE 0 END AS dry_run,
       r.trigger,
       (SELECT string_agg(j.value, '; ') FROM jsonb_array_elements_text(r.recommendations::jsonb) AS j) AS recommendations
  FROM chaos_runs AS r
  JOIN chaos_experiments AS e ON e.host = r.host AND e.id = r.experiment_id
 ORDER BY r.started_at DESC, r.host, r.id DESC;
