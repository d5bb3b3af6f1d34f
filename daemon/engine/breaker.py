"""Circuit breaker: a pure state machine fed by check results, with an injected clock and no I/O.

Why a state machine of its own: the breaker decides when a component counts as down (and so when an
incident starts), and that decision must be exact in tests, explainable (every transition carries a
human reason) and survive a restart (`snapshot()` / `CircuitBreaker.restore()`), which is impossible
if the logic is tangled with the scheduler or the database.

Rules (resilience4j's semantics, deviations on purpose are marked):

- CLOSED → OPEN when `consecutive_failures` failures arrive in a row, or when failures are ≥
  `failure_rate` of the last `window` results once `min_checks` results exist. `unhealthy` and
  `unknown` are failures; `degraded` is a slow call: it breaks a failure streak and counts toward
  `slow_call_rate`, never toward `failure_rate` (there is no slow-call threshold in the config).
- OPEN → HALF_OPEN when the open period has elapsed. The period is `open_for · 2^reopen_count`,
  capped at `max_open_for`. `reopen_count` counts the re-opens of one incident: it grows on every
  HALF_OPEN → OPEN and starts again at 0 on CLOSED → OPEN (a new incident). Across incidents the
  healer's restart backoff spaces the actions, and flapping is detected as its own state; doubling the
  open period across incidents kept a healed service reported open long after it was back.
- OPEN → HALF_OPEN at once on `recovered()`: the healer verified a recovery with the component's own
  check, so waiting out the open period would only report a healthy service as down; the half-open
  probes (on the fast cadence) still decide whether it closes.
- HALF_OPEN → CLOSED after `half_open_successes` successes; any failure → OPEN with the next period.
  A `degraded` result counts as a success in half-open, consistent with CLOSED, where it is not a
  failure either: a service that answers slowly is up, and counting it as "neither" would leave a
  permanently slow service stuck in half-open forever.
- Results are judged only in CLOSED and HALF_OPEN; in OPEN (before the deadline), FORCED_OPEN and
  DISABLED they change nothing (resilience4j: not permitted / no metrics). The window is the CLOSED
  state's own: it is cleared on entering CLOSED, so stale failures cannot re-trip a fresh breaker.
- Operator states: `force_open()` without a duration is FORCED_OPEN (indefinite), `disable()` is
  DISABLED; only another operator command leaves them. `force_open(for_=…)` is resilience4j's
  `transitionToOpenStateFor`: a normal OPEN with a custom deadline, after which the usual half-open
  probing applies. `reset()` → CLOSED with every counter, the window and the doubling cleared.

Time: deadlines are compared on the monotonic clock (immune to NTP steps while running); each
instant is also kept on the wall clock (UTC unix seconds, never truncated) because only those mean
anything after a restart. `restore()` re-anchors the stored wall instants on the current monotonic
timeline, so an OPEN breaker stays open until its stored `open_until`, however the clocks moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from daemon.clock import Clock
from daemon.config.durations import format_duration
from daemon.config.models import Breaker as BreakerSpec
from daemon.errors import HealerdError
from daemon.types import BreakerState, Status

#: Codes in the `recent` window: a success, a slow call, otherwise the failure's error class (or
#: its status when the check gave none) — so the stored window explains itself in the database.
OK = "ok"
SLOW = "slow"

#: Float slack for the failure-rate comparison (the threshold is "≥", and 0.55·20 is not exactly 11).
_RATE_EPSILON = 1e-9
#: 2^64 · any sane open_for is far past any max_open_for; bounding the exponent avoids OverflowError.
_MAX_EXPONENT = 64


class BreakerSnapshotError(HealerdError):
    """A stored breaker row cannot be understood (e.g. an unknown state)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change, with the reason written to `breaker_transitions`."""

    from_state: BreakerState
    to_state: BreakerState
    reason: str
    at_wall: float
    open_until_wall: float | None


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """What the `breakers` table stores: enough to resume with the same decisions after a restart.

    Instants are wall-clock UTC unix seconds. `recent` holds the window's codes, oldest first
    (`"ok"`, `"slow"` or a failure's error class). `last_closed_at` is when the breaker last closed
    after being open (None if never since creation or the last operator reset): it decides whether
    the next open continues the doubling.
    """

    state: BreakerState
    since: float
    open_until: float | None
    consecutive_failures: int
    consecutive_successes: int
    reopen_count: int
    recent: tuple[str, ...]
    last_closed_at: float | None


class _Instant(NamedTuple):
    mono: float
    wall: float


def open_period(spec: BreakerSpec, reopen_count: int) -> float:
    """Seconds an automatic open lasts after `reopen_count` consecutive re-opens."""
    base = spec.open_for.total_seconds()
    return min(spec.max_open_for.total_seconds(), base * 2.0 ** min(max(reopen_count, 0), _MAX_EXPONENT))


def outcome_code(status: Status, error_class: str | None) -> str:
    """The window code of one result; error classes are kept only for failures."""
    if not status.is_failure:
        return SLOW if status is Status.DEGRADED else OK
    return error_class or status.value


def _is_failure_code(code: str) -> bool:
    return code not in (OK, SLOW)


def _fmt(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds, 3)))


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}".removesuffix(".0") + "%"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


class _Window(list[str]):
    """The last `maxlen` outcome codes: a list that drops its oldest, like deque(maxlen=…).

    Not a deque because a deque allocates a 64-slot block up front (~630 bytes for a 20-result
    window): 10,000 breakers spent ~4 MB on empty slots. Dropping the oldest of a short window is
    a small memmove.
    """

    __slots__ = ("maxlen",)

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen

    def append(self, code: str) -> None:
        super().append(code)
        if len(self) > self.maxlen:
            del self[0]

    def extend(self, codes: Iterable[str]) -> None:
        super().extend(codes)
        if len(self) > self.maxlen:
            del self[: len(self) - self.maxlen]


class CircuitBreaker:
    """One component's breaker. Mutable; every method that changes state returns its transitions."""

    # slots: one breaker per component, 10,000 of them in a large fleet
    __slots__ = (
        "_clock",
        "_failures",
        "_last_closed",
        "_open_until",
        "_recent",
        "_reopen_count",
        "_since",
        "_state",
        "_successes",
        "_window_failures",
        "spec",
    )

    def __init__(self, spec: BreakerSpec, clock: Clock) -> None:
        self.spec = spec
        self._clock = clock
        now = self._now()
        self._state = BreakerState.CLOSED
        self._since = now
        self._open_until: _Instant | None = None
        self._failures = 0
        self._successes = 0
        self._reopen_count = 0
        self._last_closed: _Instant | None = None
        self._recent = _Window(spec.window)
        #: failures in `_recent`, kept as results come and go: the rate check is then O(1) per result
        #: (a replay feeds millions of results through this; see bench/replay.py)
        self._window_failures = 0

    # --- persistence -------------------------------------------------------------------------------

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            state=self._state,
            since=self._since.wall,
            open_until=self._open_until.wall if self._open_until else None,
            consecutive_failures=self._failures,
            consecutive_successes=self._successes,
            reopen_count=self._reopen_count,
            recent=tuple(self._recent),
            last_closed_at=self._last_closed.wall if self._last_closed else None,
        )

    @classmethod
    def restore(cls, spec: BreakerSpec, snapshot: BreakerSnapshot, clock: Clock) -> CircuitBreaker:
        """Resume from a stored row: nothing goes back to CLOSED because the daemon restarted.

        Past instants are re-anchored as "this long ago" (never in the future, should the wall clock
        have stepped back while we were down); the open deadline as "this long from now", so it is the
        stored absolute instant that ends the open period, not a fresh `open_for` from start-up. A
        damaged row is repaired towards caution: OPEN without a deadline stays open for its period.
        """
        try:
            state = BreakerState(snapshot.state)
        except ValueError:
            raise BreakerSnapshotError(f"unknown breaker state {snapshot.state!r}") from None
        breaker = cls(spec, clock)
        now = breaker._now()

        def past(wall: float) -> _Instant:
            return _Instant(now.mono - max(0.0, now.wall - wall), wall)

        breaker._state = state
        breaker._since = past(snapshot.since)
        breaker._failures = max(0, int(snapshot.consecutive_failures))
        breaker._successes = max(0, int(snapshot.consecutive_successes))
        breaker._reopen_count = max(0, int(snapshot.reopen_count))
        if snapshot.last_closed_at is not None:
            breaker._last_closed = past(snapshot.last_closed_at)
        breaker._recent.extend(str(code) for code in snapshot.recent)
        breaker._recount()
        if state is BreakerState.OPEN:
            if snapshot.open_until is None:
                period = open_period(spec, breaker._reopen_count)
                breaker._open_until = _Instant(now.mono + period, now.wall + period)
            else:
                breaker._open_until = _Instant(now.mono + (snapshot.open_until - now.wall), snapshot.open_until)
        return breaker

    def with_spec(self, spec: BreakerSpec) -> CircuitBreaker:
        """The same breaker under a reloaded spec: state, counters and deadline carry over.

        The window keeps its newest results if it shrank. New thresholds apply from the next result
        (a reload is not a check result, so it never trips or closes the breaker by itself), and a
        running open period keeps its deadline; the new `open_for` shapes the next one.
        """
        other = CircuitBreaker(spec, self._clock)
        other._state, other._since, other._open_until = self._state, self._since, self._open_until
        other._failures, other._successes = self._failures, self._successes
        other._reopen_count, other._last_closed = self._reopen_count, self._last_closed
        other._recent.extend(self._recent)
        other._recount()
        return other

    # --- what callers read --------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def since(self) -> float:
        """Wall-clock instant the current state began."""
        return self._since.wall

    @property
    def open_until(self) -> float | None:
        """Wall-clock deadline of the current OPEN state, or None."""
        return self._open_until.wall if self._open_until else None

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def consecutive_successes(self) -> int:
        return self._successes

    @property
    def reopen_count(self) -> int:
        return self._reopen_count

    @property
    def recent(self) -> tuple[str, ...]:
        return tuple(self._recent)

    @property
    def failure_rate(self) -> float | None:
        """Failures / results in the window; None while the window is empty."""
        return self._rate(_is_failure_code)

    @property
    def slow_call_rate(self) -> float | None:
        """Degraded results / results in the window; None while the window is empty."""
        return self._rate(lambda code: code == SLOW)

    def allows_check(self) -> bool:
        """Whether a check now would be judged (resilience4j's "call permitted")."""
        if self._state is BreakerState.OPEN:
            return self._open_remaining(self._now()) <= 0
        return self._state is not BreakerState.FORCED_OPEN

    def open_remaining(self) -> float | None:
        """Seconds until the open deadline (≤ 0 once due), or None when not OPEN."""
        return self._open_remaining(self._now()) if self._open_until else None

    # --- inputs -------------------------------------------------------------------------------------

    def tick(self) -> list[Transition]:
        """Time-based changes: OPEN → HALF_OPEN at the deadline."""
        now = self._now()
        if self._state is BreakerState.OPEN and self._open_remaining(now) <= 0:
            assert self._open_until is not None
            period = self._open_until.wall - self._since.wall
            return [self._enter(BreakerState.HALF_OPEN, now, f"open period {_fmt(period)} elapsed")]
        return []

    def feed(self, status: Status | str, error_class: str | None = None) -> list[Transition]:
        """Judge one check result (after any time-based change that was due)."""
        if status.__class__ is not Status:
            status = Status(status)
        # only an OPEN breaker has a deadline to tick, and the clock is read only when the state changes
        # (a replay feeds millions of results through here)
        transitions = self.tick() if self._state is BreakerState.OPEN else []
        code = outcome_code(status, error_class)
        if self._state is BreakerState.HALF_OPEN:
            transitions += self._judge_half_open(self._now(), status, code)
        elif self._state is BreakerState.CLOSED:
            transitions += self._judge_closed(status, code)
        return transitions

    def absorbs(self, status: Status) -> bool:
        """Whether results of `status` can change nothing here but the window and the success count:
        CLOSED, no failure in the window, `status` not a failure — then neither rule can fire."""
        spec = self.spec
        return (
            self._state is BreakerState.CLOSED
            and not self._window_failures
            and not status.is_failure
            and spec.consecutive_failures >= 1
            and spec.failure_rate > _RATE_EPSILON
        )

    def settled(self) -> bool:
        """CLOSED, no failure streak, a full window of plain successes: another healthy result then
        changes nothing but the success count, which the daemon persists only every few seconds."""
        recent = self._recent
        return (
            self._state is BreakerState.CLOSED
            and self._failures == 0
            and len(recent) == recent.maxlen
            and recent.count(OK) == len(recent)
        )

    def feed_many(self, status: Status, error_class: str | None, count: int) -> list[Transition]:
        """`count` results alike, as `count` feed() calls would judge them: in one step when the breaker
        `absorbs()` them (a replay folds a quiet week of results through this), else one by one."""
        if self.absorbs(status):
            if count > 0:
                self._recent.extend([outcome_code(status, error_class)] * min(count, self._recent.maxlen))
                self._failures = 0
                self._successes += count
            return []
        transitions: list[Transition] = []
        for _ in range(count):
            transitions += self.feed(status, error_class)
        return transitions

    def force_open(self, for_: timedelta | float | None = None, reason: str = "") -> list[Transition]:
        """Operator `open` (FORCED_OPEN, indefinite) or `open --for` (OPEN until now + for_)."""
        now = self._now()
        if for_ is None:
            return [self._enter(BreakerState.FORCED_OPEN, now, _operator("forced open", reason))]
        seconds = for_.total_seconds() if isinstance(for_, timedelta) else float(for_)
        if not seconds > 0:
            raise ValueError("an open period must be longer than zero")
        until = _Instant(now.mono + seconds, now.wall + seconds)
        return [self._enter(BreakerState.OPEN, now, _operator(f"opened for {_fmt(seconds)}", reason), until)]

    def recovered(self, reason: str) -> list[Transition]:
        """A verified recovery: OPEN → HALF_OPEN now (operator states and other states are left alone)."""
        if self._state is not BreakerState.OPEN:
            return []
        return [self._enter(BreakerState.HALF_OPEN, self._now(), reason)]

    def disable(self, reason: str = "") -> list[Transition]:
        return [self._enter(BreakerState.DISABLED, self._now(), _operator("disabled", reason))]

    def reset(self, reason: str = "") -> list[Transition]:
        transition = self._enter(BreakerState.CLOSED, self._now(), _operator("reset", reason))
        self._reopen_count = 0
        self._last_closed = None
        return [transition]

    # --- the rules ----------------------------------------------------------------------------------

    def _judge_closed(self, status: Status, code: str) -> list[Transition]:
        recent = self._recent
        if len(recent) == recent.maxlen and _is_failure_code(recent[0]):
            self._window_failures -= 1
        recent.append(code)
        if _is_failure_code(code):
            self._window_failures += 1
        if status.is_failure:
            self._failures += 1
            self._successes = 0
        else:
            self._failures = 0
            self._successes += 1
        reason = self._trip_reason()
        if reason is None:
            return []
        return [self._open(self._now(), 0, reason)]

    def _judge_half_open(self, now: _Instant, status: Status, code: str) -> list[Transition]:
        if status.is_failure:
            self._failures += 1
            return [self._open(now, self._reopen_count + 1, f"failure in half-open ({code})")]
        self._successes += 1
        if self._successes < self.spec.half_open_successes:
            return []
        reason = f"{_plural(self._successes, 'success')} in half-open"
        transition = self._enter(BreakerState.CLOSED, now, reason)
        self._last_closed = now
        return [transition]

    def _trip_reason(self) -> str | None:
        spec = self.spec
        if self._failures >= spec.consecutive_failures:
            tail = list(self._recent)[-min(self._failures, len(self._recent)) :]
            classes = ", ".join(dict.fromkeys(tail))
            return f"{self._failures} consecutive failures ({classes})"
        checks = len(self._recent)
        if checks >= spec.min_checks:
            rate = self._window_failures / checks
            if rate >= spec.failure_rate - _RATE_EPSILON:
                return f"failure rate {_pct(rate)} ≥ {_pct(spec.failure_rate)} over last {checks} checks"
        return None

    def _open(self, now: _Instant, reopens: int, reason: str) -> Transition:
        self._reopen_count = reopens
        period = open_period(self.spec, reopens)
        if reopens:
            reason += f"; re-open {reopens}, open for {_fmt(period)}"
        return self._enter(BreakerState.OPEN, now, reason, _Instant(now.mono + period, now.wall + period))

    def _enter(self, state: BreakerState, now: _Instant, reason: str, until: _Instant | None = None) -> Transition:
        """Change state; each state starts its own counters (OPEN keeps the failures that opened it)."""
        previous = self._state
        self._state, self._since, self._open_until = state, now, until
        self._successes = 0
        if state in (BreakerState.HALF_OPEN, BreakerState.CLOSED):
            self._failures = 0
        if state is BreakerState.CLOSED:
            self._recent.clear()
            self._window_failures = 0
        return Transition(previous, state, reason, now.wall, until.wall if until else None)

    def _recount(self) -> None:
        self._window_failures = sum(map(_is_failure_code, self._recent))

    def _open_remaining(self, now: _Instant) -> float:
        assert self._open_until is not None
        return self._open_until.mono - now.mono

    def _rate(self, counts: Callable[[str], bool]) -> float | None:
        if not self._recent:
            return None
        return sum(map(counts, self._recent)) / len(self._recent)

    def _now(self) -> _Instant:
        return _Instant(self._clock.monotonic(), self._clock.wall())


def _operator(what: str, reason: str) -> str:
    return f"operator: {what}" + (f" ({reason})" if reason else "")
