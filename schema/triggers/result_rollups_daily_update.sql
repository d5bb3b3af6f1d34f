-- An hourly rollup row that grows (the writer's UPSERT) adds the difference into its UTC day's row.
-- Minimum and maximum latency can only widen, as they do in the hourly row.
CREATE TRIGGER result_rollups_daily_update
AFTER UPDATE ON result_rollups_hourly
WHEN NEW.hour = OLD.hour AND NEW.component_id = OLD.component_id
BEGIN
    UPDATE result_rollups_daily
       SET total = total + NEW.total - OLD.total,
           healthy = healthy + NEW.healthy - OLD.healthy,
           degraded = degraded + NEW.degraded - OLD.degraded,
           unhealthy = unhealthy + NEW.unhealthy - OLD.unhealthy,
           unknown = unknown + NEW.unknown - OLD.unknown,
           injected = injected + NEW.injected - OLD.injected,
           maintenance = maintenance + NEW.maintenance - OLD.maintenance,
           maintenance_up = maintenance_up + NEW.maintenance_up - OLD.maintenance_up,
           latency_sum_ms = latency_sum_ms + NEW.latency_sum_ms - OLD.latency_sum_ms,
           latency_min_ms = min(coalesce(latency_min_ms, NEW.latency_min_ms), NEW.latency_min_ms),
           latency_max_ms = max(coalesce(latency_max_ms, NEW.latency_max_ms), NEW.latency_max_ms)
     WHERE day = NEW.hour - NEW.hour % 86400 AND component_id = NEW.component_id;
END;
