"""Domain value types shared by every layer.

They live here, outside the layers, so that the store can persist what the engine produces without
importing the engine (imports only go config → policies → store → engine → …).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(str, enum.Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"

    @property
    def is_failure(self) -> bool:
        """`unknown` counts as a failure: a check we cannot evaluate must not keep a breaker closed."""
        return self in (Status.UNHEALTHY, Status.UNKNOWN)


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


class Level(str, enum.Enum):
    FULL = "full"
    REDUCED = "reduced"
    MINIMAL = "minimal"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        """0 for full service, 3 for emergency: higher is worse, so `max` picks the worst level."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.FULL: 0, Level.REDUCED: 1, Level.MINIMAL: 2, Level.EMERGENCY: 3}

#: Error classes a check may report; the healer's `when = { errors = [...] }` matches these.
ERROR_CLASSES = frozenset(
    {
        "refused",
        "timeout",
        "bad_status",
        "bad_body",
        "exit_code",
        "not_running",
        "stale",
        "missing",
        "too_small",
        "full",
        "corrupt",
        "dns",
        "error",
        "unknown",
    }
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One observation of one component. `ts` is wall-clock UTC unix seconds."""

    component: str
    status: Status
    latency_ms: float
    message: str
    error_class: str | None
    ts: float
    injected: bool = False
    #: a Nagios plugin's performance data (what follows its `|`), kept apart from `message`.
    perfdata: str | None = None
    #: taken during a maintenance window or silence: recorded, left out of availability (issue 10).
    maintenance: bool = False
