-- Every breaker that is not closed, on every host (PostgreSQL version of the local view, `host` first).
CREATE VIEW active_circuit_breakers AS
SELECT b.host,
       c.name AS component,
       b.state,
       healerd_iso(b.since) AS since,
       healerd_round(healerd_now() - b.since) AS for_s,
       healerd_iso(b.open_until) AS open_until,
       CASE WHEN b.open_until IS NULL THEN NULL
            ELSE healerd_round(greatest(b.open_until - healerd_now(), 0)) END AS remaining_s,
       b.consecutive_failures,
       b.reopen_count,
       (SELECT t.reason
          FROM breaker_transitions AS t
         WHERE t.host = b.host AND t.component_id = b.component_id
         ORDER BY t.ts DESC, t.id DESC
         LIMIT 1) AS reason
  FROM breakers AS b
  JOIN components AS c ON c.host = b.host AND c.id = b.component_id
 WHERE b.state <> 'closed'
   AND c.removed_at IS NULL
 ORDER BY b.since, b.host, c.name;
