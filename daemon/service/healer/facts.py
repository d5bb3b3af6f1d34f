"""What decide() needs to know about the other components, built once per healer pass.

Statuses and breaker states come from the monitor's memory (no I/O). Verified checkpoints and the
candidates' recent success rates come from the database, so they are read only when some component is
sick (or has a fallback to fail back from) and then at most every CHECKPOINTS_TTL_S / STATS_TTL_S:
a healthy fleet costs the healer no reads at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from daemon.clock import Clock
from daemon.config.models import FallbackStep, HealerdConfig
from daemon.engine.decision import CheckpointView, DepView
from daemon.engine.select import CandidateStats
from daemon.service.monitor import Monitor
from daemon.service.wiring import Read
from daemon.store import checkpoints_sql, healer_sql
from daemon.types import BreakerState, Status

log = structlog.get_logger(__name__)

CHECKPOINTS_TTL_S = 1.0
STATS_TTL_S = 30.0
#: how far back the rollups go for `weighted` fallback selection.
STATS_WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class Facts:
    health: Mapping[str, Status]
    deps: Mapping[str, DepView]
    checkpoints: Mapping[str, CheckpointView] = field(default_factory=dict)
    stats: Mapping[str, CandidateStats] = field(default_factory=dict)


class FactsCache:
    def __init__(self, read: Read, clock: Clock, monitor: Monitor) -> None:
        self.read = read
        self.clock = clock
        self.monitor = monitor
        self._checkpoints: dict[str, CheckpointView] = {}
        self._checkpoints_at: float | None = None
        self._stats: dict[str, CandidateStats] = {}
        self._stats_at: float | None = None

    def invalidate_checkpoints(self) -> None:
        """A checkpoint was taken or found corrupt: the next pass reads them again."""
        self._checkpoints_at = None

    async def get(self, config: HealerdConfig, book) -> Facts:
        monitor = self.monitor
        health: dict[str, Status] = {}
        deps: dict[str, DepView] = {}
        for name, component in config.components.items():
            last = monitor.last.get(name)
            status = last.status if last is not None else Status.UNKNOWN
            breaker = monitor.breakers.get(name)
            state = breaker.state if breaker is not None else BreakerState.CLOSED
            health[name] = status
            since = breaker.since if breaker is not None else None
            deps[name] = DepView(name, status, state, tuple(component.depends_on), since)
        troubled = any(
            (breaker.state not in (BreakerState.CLOSED, BreakerState.DISABLED))
            or book.get(name).incident is not None
            or book.get(name).fallback is not None
            for name, breaker in monitor.breakers.items()
        )
        if not troubled:
            return Facts(health, deps, self._checkpoints, self._stats)
        now = self.clock.monotonic()
        try:
            if self._checkpoints_at is None or now - self._checkpoints_at >= CHECKPOINTS_TTL_S:
                self._checkpoints = await asyncio.to_thread(self.read, _checkpoint_views)
                self._checkpoints_at = now
            if _wants_stats(config) and (self._stats_at is None or now - self._stats_at >= STATS_TTL_S):
                since = int((self.clock.wall() - STATS_WINDOW_S) // 3600 * 3600)
                self._stats = await asyncio.to_thread(self.read, _candidate_stats, since)
                self._stats_at = now
        except Exception as exc:  # a locked or unreadable database: decide with what we had
            log.warning("healer could not read checkpoints or stats; using the last known", error=str(exc))
        return Facts(health, deps, self._checkpoints, self._stats)


def _wants_stats(config: HealerdConfig) -> bool:
    return any(
        isinstance(step, FallbackStep) and step.select == "weighted"
        for component in config.components.values()
        for step in component.recovery
    )


def _checkpoint_views(conn) -> dict[str, CheckpointView]:
    return {
        name: CheckpointView(name=name, id=row["id"], taken_at=row["taken_at"], verified=True)
        for name, row in checkpoints_sql.latest_verified(conn).items()
    }


def _candidate_stats(conn, since_hour: int) -> dict[str, CandidateStats]:
    out = {}
    for name, (healthy, total, latency_sum) in healer_sql.candidate_rollups(conn, since_hour).items():
        if total > 0:
            out[name] = CandidateStats(success_rate=healthy / total, latency_ms=latency_sum / total)
    return out
