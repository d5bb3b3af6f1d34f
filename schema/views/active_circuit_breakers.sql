-- Breakers that are not closed (open, half-open, forced open, disabled), oldest first, with the reason.
-- `for_s` is how long the breaker has been in its state; `remaining_s` how long until it may half-open
-- (0 once the deadline has passed); `reason` is that of the breaker's latest transition.
CREATE VIEW active_circuit_breakers AS
SELECT c.name AS component,
       b.state,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.since, 'unixepoch') AS since,
       round((julianday('now') - 2440587.5) * 86400.0 - b.since, 3) AS for_s,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.open_until, 'unixepoch') AS open_until,
       CASE
           WHEN b.open_until IS NULL THEN NULL
           ELSE round(max(b.open_until - (julianday('now') - 2440587.5) * 86400.0, 0), 3)
       END AS remaining_s,
       b.consecutive_failures,
       b.reopen_count,
       (SELECT t.reason
          FROM breaker_transitions AS t
         WHERE t.component_id = b.component_id
         ORDER BY t.ts DESC, t.id DESC
         LIMIT 1) AS reason
  FROM breakers AS b
  JOIN components AS c ON c.id = b.component_id
 WHERE b.state <> 'closed'
   AND c.removed_at IS NULL
 ORDER BY b.since, c.name;
