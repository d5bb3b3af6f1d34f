"""`/metrics` (and the textfile): a prometheus_client custom collector over the daemon's state.

Gathered in two parts. What the daemon holds in memory (each component's latest result and breaker,
the check tally, the level and score, scheduler and writer counters) is copied on the event loop in a
few milliseconds. What only the database knows (open incidents, recoveries, notifications and chaos
runs by outcome, unresolved config problems) is one read-only aiosqlite read with a deadline. Those
database-backed counters count rows, so they survive restarts; the in-memory ones reset (README).
Formatting, the expensive part at 10,000 components, runs on a worker thread, not on the loop.

Names follow blackbox_exporter / node_exporter: `_total` counters, `_seconds`/`_ratio` units, a state
set as one gauge per state with a `state` label (exactly one is 1), `healerd_build_info` = 1.
"""

from __future__ import annotations

import platform
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from daemon import __version__
from daemon.service.web.tally import BUCKETS, CheckTally
from daemon.service.wiring import DaemonView
from daemon.types import BreakerState, Level, Status

STATES = tuple(s.value for s in Status)
#: healerd_breaker_state's values, in the order of how much they keep a component from being called.
BREAKER_CODES = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
    BreakerState.FORCED_OPEN: 3,
    BreakerState.DISABLED: 4,
}
#: a component whose latest result is older than this many intervals is unknown (as the views say).
STALE_INTERVALS = 3


@dataclass
class Snapshot:
    now: float
    components: list[tuple[str, str, int]] = field(default_factory=list)  # (name, state, breaker code)
    checks: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    buckets: dict[str, list[int]] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    level: Level | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    writer: Any = None
    db: dict[str, Any] = field(default_factory=dict)
    #: FleetShipper.metrics() when [fleet] is on, else None (no fleet families at all).
    fleet: dict[str, Any] | None = None


def component_state(last, every_s: float, now: float) -> str:
    """The `current_system_status` rule: no result, or one older than 3 intervals, is unknown."""
    if last is None or now - last.ts > STALE_INTERVALS * every_s:
        return Status.UNKNOWN.value
    return last.status.value


def snapshot_memory(rt: DaemonView, tally: CheckTally | None) -> Snapshot:
    """Everything from memory; runs on the loop, copies only (no I/O)."""
    now = rt.clock.wall()
    snap = Snapshot(now=now)
    monitor = rt.monitor
    for name, component in rt.config.components.items():
        breaker = monitor.breakers.get(name) if monitor else None
        state = component_state(monitor.last.get(name) if monitor else None, component.check.every.total_seconds(), now)
        snap.components.append((name, state, BREAKER_CODES[breaker.state] if breaker else 0))
    if tally is not None:
        snap.checks, snap.failures = dict(tally.checks), dict(tally.failures)
        snap.buckets, snap.sums = {k: list(v) for k, v in tally.buckets.items()}, dict(tally.sums)
    deg = rt.degradation
    if deg is not None:
        snap.score = deg.score.value if deg.score is not None else None
        snap.level = deg.tracker.level if deg.tracker is not None else None
        snap.flags = {name: f.enabled for name, f in deg.flags.items()}
    snap.scheduler = rt.run_statistics()
    snap.writer = rt.writer.stats()
    snap.fleet = rt.fleet.metrics() if rt.fleet is not None else None
    return snap


def read_db(conn: sqlite3.Connection) -> dict[str, Any]:
    """The database-backed figures (counts of rows: they survive restarts)."""
    q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
    return {
        "incidents": {
            name
            for (name,) in q(
                "SELECT c.name FROM incidents AS i JOIN components AS c ON c.id = i.component_id WHERE i.status = 'open'"
            )
        },
        "recoveries": q(
            "SELECT strategy, status, count(*) FROM recovery_events WHERE status <> 'started' GROUP BY strategy, status"
        ),
        "notifications": q(
            "SELECT channel, status, count(*) FROM escalations WHERE status <> 'pending' GROUP BY channel, status"
        ),
        "chaos": q("SELECT verdict, count(*) FROM chaos_runs WHERE verdict <> 'running' GROUP BY verdict"),
        "config_problems": q("SELECT count(*) FROM config_errors WHERE resolved_at IS NULL")[0][0],
    }


class SnapshotCollector:
    """Yields the families of one Snapshot (prometheus_client calls `collect()` while formatting).

    `part` is "states" (four families with one series per component, which change only when a
    component's state does) or "counters" (everything else); see `Renderer`.
    """

    def __init__(self, snap: Snapshot, part: str) -> None:
        self.snap = snap
        self.part = part

    def collect(self):
        yield from (self._states() if self.part == "states" else self._counters())

    def _states(self):
        s = self.snap
        up = GaugeMetricFamily(
            "healerd_component_up",
            "1 when the latest check passed (healthy or degraded) and is not stale.",
            labels=["component"],
        )
        state = GaugeMetricFamily(
            "healerd_component_state",
            "The component's health as a state set: 1 for its state, 0 for the others.",
            labels=["component", "state"],
        )
        breaker = GaugeMetricFamily(
            "healerd_breaker_state",
            "Circuit breaker: 0 closed, 1 half_open, 2 open, 3 forced_open, 4 disabled.",
            labels=["component"],
        )
        incident = GaugeMetricFamily(
            "healerd_incident_open", "1 while the component has an open incident.", labels=["component"]
        )
        open_incidents = s.db.get("incidents", set())
        for name, st, code in s.components:
            up.add_metric([name], 1 if st in ("healthy", "degraded") else 0)
            for candidate in STATES:
                state.add_metric([name, candidate], 1 if candidate == st else 0)
            breaker.add_metric([name], code)
            incident.add_metric([name], 1 if name in open_incidents else 0)
        yield from (up, state, breaker, incident)

    def _counters(self):
        s = self.snap
        build = GaugeMetricFamily("healerd_build_info", "healerd's version; always 1.", labels=["version", "python"])
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
        checks = CounterMetricFamily("healerd_checks", "Checks run since the daemon started.", labels=["component"])
        for name, n in s.checks.items():
            checks.add_metric([name], n)
        yield checks
        failures = CounterMetricFamily(
            "healerd_check_failures",
            "Failed checks (unhealthy or unknown) since the daemon started.",
            labels=["component", "error_class"],
        )
        for (name, error_class), n in s.failures.items():
            failures.add_metric([name, error_class], n)
        yield failures
        duration = HistogramMetricFamily(
            "healerd_check_duration_seconds", "How long checks took, per check kind.", labels=["kind"]
        )
        for kind, counts in s.buckets.items():
            cumulative, total = [], 0
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts):
                total += n
                cumulative.append((bound, total))
            duration.add_metric([kind], cumulative, s.sums.get(kind, 0.0))
        yield duration

        recoveries = CounterMetricFamily(
            "healerd_recoveries", "Finished recovery steps by strategy (from the database).", labels=["strategy"]
        )
        rec_failed = CounterMetricFamily(
            "healerd_recovery_failures", "Recovery steps that failed or were interrupted.", labels=["strategy"]
        )
        for family, rows in _by_first(s.db.get("recoveries", []), failed={"failed", "interrupted"}):
            (recoveries if family == "all" else rec_failed).add_metric(*rows)
        yield from (recoveries, rec_failed)
        notes = CounterMetricFamily(
            "healerd_notifications",
            "Escalation messages attempted per channel (from the database).",
            labels=["channel"],
        )
        notes_failed = CounterMetricFamily(
            "healerd_notification_failures", "Escalation messages that could not be delivered.", labels=["channel"]
        )
        for family, rows in _by_first(s.db.get("notifications", []), failed={"failed"}):
            (notes if family == "all" else notes_failed).add_metric(*rows)
        yield from (notes, notes_failed)
        chaos = CounterMetricFamily(
            "healerd_chaos_runs", "Finished chaos experiment runs by verdict.", labels=["verdict"]
        )
        for verdict, n in s.db.get("chaos", []):
            chaos.add_metric([verdict], n)
        yield chaos

        if s.score is not None:
            yield GaugeMetricFamily(
                "healerd_health_score_ratio", "The weighted health score, 0 to 1.", value=s.score / 100.0
            )
        if s.level is not None:
            yield GaugeMetricFamily(
                "healerd_degradation_level", "0 full, 1 reduced, 2 minimal, 3 emergency.", value=s.level.rank
            )
        flags = GaugeMetricFamily("healerd_feature_flag_enabled", "1 while the flag is on.", labels=["flag"])
        for name, enabled in s.flags.items():
            flags.add_metric([name], 1 if enabled else 0)
        yield flags

        sch = s.scheduler
        yield CounterMetricFamily(
            "healerd_scheduler_runs", "Check runs the scheduler submitted.", value=sch.get("runs_submitted", 0)
        )
        yield CounterMetricFamily(
            "healerd_scheduler_late_runs",
            "Runs that started more than 1 s after their time.",
            value=max(0, sch.get("runs_submitted", 0) - sch.get("on_time_runs", 0)),
        )
        yield CounterMetricFamily(
            "healerd_scheduler_missed_runs",
            "Runs skipped (coalesced or past their grace).",
            value=sch.get("missed_runs", 0),
        )
        lateness = GaugeMetricFamily(
            "healerd_scheduler_lateness_seconds", "Start lateness over recent runs.", labels=["quantile"]
        )
        for q, key in (("0.5", "lateness_p50_ms"), ("0.99", "lateness_p99_ms")):
            if sch.get(key) is not None:
                lateness.add_metric([q], sch[key] / 1000.0)
        yield lateness
        yield GaugeMetricFamily(
            "healerd_scheduler_interval_stretch",
            "Overload control: every interval is multiplied by this.",
            value=sch.get("interval_stretch", 1),
        )
        w = s.writer
        if w is not None:
            queue = GaugeMetricFamily("healerd_writer_queue_length", "Items waiting for the writer.", labels=["kind"])
            queue.add_metric(["results"], w.queued_results)
            queue.add_metric(["calls"], w.queued_calls)
            yield queue
            yield CounterMetricFamily(
                "healerd_writer_shed", "Check results dropped while the database was unavailable.", value=w.shed
            )
            yield CounterMetricFamily("healerd_writer_rows_written", "Check results committed.", value=w.written)
            yield GaugeMetricFamily(
                "healerd_writer_db_available",
                "0 while the database refuses writes (locked, full).",
                value=1 if w.db_available else 0,
            )
        yield from _fleet_families(s.fleet)
        problems = s.db.get("config_problems")
        if problems is not None:
            yield GaugeMetricFamily(
                "healerd_config_last_reload_successful",
                "1 when every config file loaded (no unresolved config_errors).",
                value=0 if problems else 1,
            )
            yield GaugeMetricFamily(
                "healerd_config_problems",
                "Unresolved config problems (files kept at their last good version).",
                value=problems,
            )


def _fleet_families(fleet: dict[str, Any] | None):
    """Shipping to the fleet centre: the lag an alert rule watches (`healerd_fleet_lag_seconds > 300`)."""
    if fleet is None:
        return
    if fleet.get("lag_s") is not None:
        yield GaugeMetricFamily(
            "healerd_fleet_lag_seconds",
            "Age of the oldest local row not yet shipped to the fleet centre (0 when caught up).",
            value=fleet["lag_s"],
        )
    if fleet.get("last_success_at") is not None:
        yield GaugeMetricFamily(
            "healerd_fleet_last_success_timestamp_seconds",
            "When a shipping round last succeeded (Unix time).",
            value=fleet["last_success_at"],
        )
    yield CounterMetricFamily(
        "healerd_fleet_rows_shipped",
        "Rows shipped to the fleet centre since the daemon started.",
        value=fleet.get("rows_shipped", 0),
    )
    yield GaugeMetricFamily(
        "healerd_fleet_consecutive_failures",
        "Shipping rounds failed in a row (the centre unreachable or refusing).",
        value=fleet.get("consecutive_failures", 0),
    )


def _by_first(rows, failed: set[str]):
    """(key, status, n) rows → ("all"|"failed", ([key], sum)) pairs."""
    total: dict[str, int] = {}
    bad: dict[str, int] = {}
    for key, status, n in rows:
        total[key] = total.get(key, 0) + n
        if status in failed:
            bad[key] = bad.get(key, 0) + n
        else:
            bad.setdefault(key, 0)
    return [("all", ([k], v)) for k, v in total.items()] + [("failed", ([k], v)) for k, v in bad.items()]


def _format(snap: Snapshot, part: str) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap, part))
    return generate_latest(registry)


#: sample lines each component contributes to the four state families, in the order they are yielded
_LINES_PER_COMPONENT = (1, len(STATES), 1, 1)


def _blocks(text: bytes) -> list[list[bytes]]:
    """Exposition text → one list of lines per family (its # HELP and # TYPE lines first)."""
    blocks: list[list[bytes]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(b"# HELP "):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


class Renderer:
    """The text exposition format (0.0.4), formatting each component's state lines only when they change.

    At 10,000 components the four per-component state families are 70,000 of 80,000 lines and most of
    a scrape's cost, yet between two scrapes 15 s apart only the few components whose state changed
    have different lines. Those are formatted (by prometheus_client, in one pass) and spliced into a
    per-component cache; the rest is a join. The counters are formatted every time.
    """

    def __init__(self) -> None:
        self._keys: dict[str, tuple] = {}
        self._lines: dict[str, list[bytes]] = {}  # name → its lines for each of the four families
        self._headers = [b"".join(block) for block in _blocks(_format(Snapshot(now=0.0), "states"))]
        #: components formatted so far (a test and the bench read it)
        self.formatted = 0

    def _states(self, snap: Snapshot) -> bytes:
        incidents = snap.db.get("incidents", set())
        keyed = [(c[0], (*c, c[0] in incidents)) for c in snap.components]
        changed = [c for (name, key), c in zip(keyed, snap.components) if self._keys.get(name) != key]
        if changed:
            partial = Snapshot(now=snap.now, components=changed, db={"incidents": incidents})
            blocks = _blocks(_format(partial, "states"))
            for family, (block, per) in enumerate(zip(blocks, _LINES_PER_COMPONENT)):
                samples = block[2:]
                for i, (name, _state, _code) in enumerate(changed):
                    self._lines.setdefault(name, [b""] * len(_LINES_PER_COMPONENT))[family] = b"".join(
                        samples[i * per : (i + 1) * per]
                    )
            self.formatted += len(changed)
        self._keys = dict(keyed)
        for gone in self._lines.keys() - self._keys.keys():
            del self._lines[gone]
        names = [c[0] for c in snap.components]
        return b"".join(
            header + b"".join(self._lines[name][family] for name in names)
            for family, header in enumerate(self._headers)
        )

    def render(self, snap: Snapshot) -> bytes:
        return _format(snap, "counters") + self._states(snap)


def render(snap: Snapshot) -> bytes:
    """One snapshot, formatted from scratch."""
    return Renderer().render(snap)
