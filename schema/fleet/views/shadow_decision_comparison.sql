-- Per host, shadow mode (issue 15): each decision a shadow policy set made (nothing of it was executed)
-- beside the live decision of the same component and kind nearest in time within 60 s, if any.
-- agrees = 1 when such a live decision exists with the same ladder step; 0 otherwise. live_* are NULL
-- when there is none. Waits and nothings are left out: they explain, they do not act.
CREATE VIEW shadow_decision_comparison AS
WITH pairs AS (
    SELECT s.host,
           s.id AS shadow_id,
           d.id AS live_id,
           row_number() OVER (PARTITION BY s.host, s.id ORDER BY abs(d.ts - s.ts), d.id) AS rn
      FROM shadow_decisions AS s
      JOIN decisions AS d
        ON d.host = s.host AND d.component_id = s.component_id AND d.kind = s.kind
       AND d.ts BETWEEN s.ts - 60 AND s.ts + 60
     WHERE s.kind NOT IN ('wait', 'nothing')
)
SELECT s.host,
       c.name AS component,
       s.shadow_config,
       healerd_iso(s.ts) AS at,
       s.kind,
       s.step,
       s.strategy,
       s.reason AS shadow_reason,
       l.id AS live_decision_id,
       healerd_iso(l.ts) AS live_at,
       healerd_round(l.ts - s.ts) AS live_offset_s,
       l.step AS live_step,
       l.reason AS live_reason,
       CASE WHEN l.id IS NOT NULL AND l.step IS NOT DISTINCT FROM s.step THEN 1 ELSE 0 END AS agrees
  FROM shadow_decisions AS s
  JOIN components AS c ON c.host = s.host AND c.id = s.component_id
  LEFT JOIN pairs AS p ON p.host = s.host AND p.shadow_id = s.id AND p.rn = 1
  LEFT JOIN decisions AS l ON l.host = s.host AND l.id = p.live_id
 WHERE s.kind NOT IN ('wait', 'nothing')
 ORDER BY s.host, s.ts, s.id;
