"""Check counters for /metrics, kept as plain ints by a result listener on the monitor.

Not prometheus_client Counter objects: those take a lock and hash a label tuple on every check, on
the hot path of 1,000+ checks a second. Here one observation is two dict increments and a bisect;
the collector turns the dicts into metric families only when someone scrapes. The duration
histogram is per check kind, not per component: 10,000 components × 13 series each would be 130,000
series, which Prometheus' own guidance calls a cardinality problem; the last duration of each
component is in `healerd_check_duration_seconds`' per-kind buckets and in the database.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable

from daemon.types import CheckResult

#: seconds; blackbox_exporter-like probe durations (a check's timeout defaults to 5 s).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CheckTally:
    """Counts since this daemon started (they reset on restart, like any process's counters)."""

    def __init__(self, kind_of: Callable[[str], str | None]) -> None:
        self._kind_of = kind_of
        self.checks: dict[str, int] = defaultdict(int)
        #: (component, error_class) → failures (unhealthy or unknown results)
        self.failures: dict[tuple[str, str], int] = defaultdict(int)
        #: kind → counts per bucket (not cumulative; the last slot is +Inf), and the sum of seconds
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, result: CheckResult) -> None:
        name = result.component
        self.checks[name] += 1
        if result.status.is_failure:
            self.failures[(name, result.error_class or "unknown")] += 1
        kind = self._kind_of(name) or "unknown"
        seconds = result.latency_ms / 1000.0
        counts = self.buckets.get(kind)
        if counts is None:
            counts = self.buckets[kind] = [0] * (len(BUCKETS) + 1)
        counts[bisect_left(BUCKETS, seconds)] += 1
        self.sums[kind] += seconds
