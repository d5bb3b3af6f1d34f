-- A new hourly rollup row is added into its UTC day's row (the 7- and 30-day availability views read days).
CREATE TRIGGER result_rollups_daily_insert
AFTER INSERT ON result_rollups_hourly
BEGIN
    INSERT INTO result_rollups_daily
        (day, component_id, total, healthy, degraded, unhealthy, unknown, injected, maintenance, maintenance_up,
         latency_sum_ms, latency_min_ms, latency_max_ms)
    VALUES (NEW.hour - NEW.hour % 86400, NEW.component_id, NEW.total, NEW.healthy, NEW.degraded,
            NEW.unhealthy, NEW.unknown, NEW.injected, NEW.maintenance, NEW.maintenance_up, NEW.latency_sum_ms, NEW.latency_min_ms, NEW.latency_max_ms)
    ON CONFLICT (day, component_id) DO UPDATE SET
        total = total + excluded.total,
        healthy = healthy + excluded.healthy,
        degraded = degraded + excluded.degraded,
        unhealthy = unhealthy + excluded.unhealthy,
        unknown = unknown + excluded.unknown,
        injected = injected + excluded.injected,
        maintenance = maintenance + excluded.maintenance,
        maintenance_up = maintenance_up + excluded.maintenance_up,
        latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
        latency_min_ms = min(coalesce(latency_min_ms, excluded.latency_min_ms), excluded.latency_min_ms),
        latency_max_ms = max(coalesce(latency_max_ms, excluded.latency_max_ms), excluded.latency_max_ms);
END;
