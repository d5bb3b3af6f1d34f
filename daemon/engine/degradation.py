"""The degradation level: full → reduced → minimal → emergency, from the score, with hysteresis.

A state machine with an injected clock and no I/O. Rules, and why:

* **Down is immediate.** When the score falls below a threshold the level drops at once (several
  levels at once if need be): shedding load late makes an outage worse.
* **Up needs proof.** A better level L is reached only when the score has been ≥ (L's threshold +
  `margin`) at every update for `hold` (monotonic clock, immune to NTP steps). Each better level keeps
  its own "clearing since", so a score that clears reduced for 60s but full for only 30s goes to reduced
  now and to full 30s later; a score that clears both for the hold jumps straight to full. Continuity
  is judged at the updates seen, so the caller feeds every new score.
* **Nothing known, nothing changes.** A score of None (every component unknown) keeps the level, and
  drops any pending recovery: unknown proves nothing about clearing a threshold.
* **An override wins** over the computed level until it is cleared or expires by itself. Its deadline
  is wall-clock (stored, so it means the same instant after a restart). The computed level keeps
  tracking underneath, with its hysteresis, so expiry lands on an honest level.
* **Restarts.** `snapshot()` stores wall-clock times only; `restore()` maps them onto the new
  process's monotonic clock. A pending recovery keeps the clearing time observed *before* the
  restart, but the time the daemon was down is not credited (nobody watched the score then); the first
  score after the restart must still clear, or the pending recovery is dropped.
* A fresh tracker starts at `full`: the first defined score moves it down at once if it must.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from daemon.clock import Clock
from daemon.config.models import Degradation
from daemon.timefmt import iso
from daemon.types import Level

LEVELS = (Level.FULL, Level.REDUCED, Level.MINIMAL, Level.EMERGENCY)


def entry_bar(level: Level, config: Degradation) -> float:
    """The lowest score at which `level` (or better) applies."""
    return {
        Level.FULL: config.reduced_below,
        Level.REDUCED: config.minimal_below,
        Level.MINIMAL: config.emergency_below,
        Level.EMERGENCY: -math.inf,
    }[level]


def level_for(score: float, config: Degradation) -> Level:
    """The level a score implies with no memory: below `reduced_below` is reduced, and so on."""
    for level in LEVELS:
        if score >= entry_bar(level, config):
            return level
    raise AssertionError("unreachable: emergency has no lower bar")


def _fmt(x: float) -> str:
    return f"{x:g}"


class Cause(str, enum.Enum):
    SCORE = "score"
    RECOVERY = "recovery"
    OVERRIDE_SET = "override_set"
    OVERRIDE_CLEARED = "override_cleared"
    OVERRIDE_EXPIRED = "override_expired"


@dataclass(frozen=True, slots=True)
class LevelChange:
    """One decision about the published level, with its reason; `at` is wall-clock unix seconds.

    Override events are reported even when the level stays the same (setting an override equal to the
    current level is still an operator act worth recording); `changed` says whether the level moved,
    which is what an `on_change` action cares about.
    """

    from_level: Level
    to_level: Level
    cause: Cause
    reason: str
    score: float | None
    at: float

    @property
    def changed(self) -> bool:
        return self.from_level is not self.to_level


@dataclass(frozen=True, slots=True)
class Override:
    level: Level
    until: float
    reason: str
    set_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "until": self.until, "reason": self.reason, "set_at": self.set_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Override:
        return cls(Level(data["level"]), float(data["until"]), str(data["reason"]), float(data["set_at"]))


@dataclass(frozen=True, slots=True)
class TrackerState:
    """Everything a LevelTracker needs to carry on after a restart; all times wall-clock."""

    computed: Level
    since: float
    override: Override | None
    taken_at: float
    #: better level → wall ts since which the score has cleared its bar (a pending recovery).
    pending: dict[Level, float] = field(default_factory=dict)

    @property
    def level(self) -> Level:
        return self.override.level if self.override is not None else self.computed

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "computed": self.computed.value,
            "since": self.since,
            "pending": {lvl.value: ts for lvl, ts in self.pending.items()},
            "override": None if self.override is None else self.override.to_dict(),
            "taken_at": self.taken_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerState:
        """Raises ValueError/KeyError/TypeError on a malformed snapshot; the caller starts fresh then."""
        override = data.get("override")
        return cls(
            computed=Level(data["computed"]),
            since=float(data["since"]),
            override=None if override is None else Override.from_dict(override),
            taken_at=float(data["taken_at"]),
            pending={Level(k): float(v) for k, v in (data.get("pending") or {}).items()},
        )


class LevelTracker:
    def __init__(self, config: Degradation, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._computed = Level.FULL
        self._since = clock.wall()
        self._override: Override | None = None
        self._pending: dict[Level, float] = {}  # better level → monotonic start of clearing
        self._last_score: float | None = None

    # --- reading ---------------------------------------------------------------------------------

    @property
    def level(self) -> Level:
        """The published level: the override's while one is active, else the computed one."""
        return self._override.level if self._override is not None else self._computed

    @property
    def computed(self) -> Level:
        return self._computed

    @property
    def since(self) -> float:
        """Wall-clock time the published level began."""
        return self._since

    @property
    def override(self) -> Override | None:
        return self._override

    def pending_recovery(self) -> tuple[Level, float] | None:
        """The best level being recovered to and the seconds of hold still needed, for display."""
        if not self._pending:
            return None
        best = min(self._pending, key=lambda lvl: lvl.rank)
        held = self._clock.monotonic() - self._pending[best]
        return best, max(0.0, self._hold() - held)

    # --- deciding ---------------------------------------------------------------------------------

    def update(self, score: float | None) -> LevelChange | None:
        """Feed the newest score (None = nothing known); returns the change of published level, if any.

        An override that expires during this call is reported as its own change (landing on the
        computed level, which has already taken this score into account).
        """
        self._last_score = score
        stepped = self._step(score)
        expired = self.expire()
        if expired is not None:
            return expired
        if stepped is None or self._override is not None:
            return None
        before, cause, reason = stepped
        return self._change(before, cause, reason)

    def expire(self) -> LevelChange | None:
        """End the override if its wall-clock deadline has passed; safe to call as often as wanted."""
        if self._override is None or self._clock.wall() < self._override.until:
            return None
        ended = self._override
        self._override = None
        reason = f"override {ended.level.value} expired at {iso(ended.until)} (set because: {ended.reason}); computed level {self._computed.value}"
        return self._change(ended.level, Cause.OVERRIDE_EXPIRED, reason)

    def set_override(self, level: Level, until: float, reason: str) -> LevelChange:
        """Pin the published level until wall-clock `until`; replaces any override already set."""
        now = self._clock.wall()
        if not until > now:
            raise ValueError(f"an override must end in the future (until {iso(until)} ≤ now {iso(now)})")
        before = self.level
        self._override = Override(Level(level), until, reason, now)
        return self._change(
            before, Cause.OVERRIDE_SET, f"override {self._override.level.value} until {iso(until)}: {reason}"
        )

    def clear_override(self, reason: str = "cleared by operator") -> LevelChange | None:
        if self._override is None:
            return None
        ended = self._override
        self._override = None
        return self._change(
            ended.level,
            Cause.OVERRIDE_CLEARED,
            f"override {ended.level.value} cleared ({reason}); computed level {self._computed.value}",
        )

    # --- persistence ------------------------------------------------------------------------------

    def snapshot(self) -> TrackerState:
        now_w, now_m = self._clock.wall(), self._clock.monotonic()
        pending = {lvl: now_w - (now_m - start) for lvl, start in self._pending.items()}
        return TrackerState(self._computed, self._since, self._override, now_w, pending)

    @classmethod
    def restore(cls, state: TrackerState, config: Degradation, clock: Clock) -> LevelTracker:
        """A tracker carrying on from `state` on this process's clocks (see module doc for pending)."""
        tracker = cls(config, clock)
        tracker._computed = state.computed
        tracker._since = state.since
        tracker._override = state.override
        now_m = clock.monotonic()
        tracker._pending = {
            lvl: now_m - max(0.0, state.taken_at - started)
            for lvl, started in state.pending.items()
            if lvl.rank < state.computed.rank
        }
        return tracker

    # --- internals --------------------------------------------------------------------------------

    def _hold(self) -> float:
        return self.config.hold.total_seconds()

    def _change(self, before: Level, cause: Cause, reason: str) -> LevelChange:
        now = self._clock.wall()
        if self.level is not before:
            self._since = now
        return LevelChange(before, self.level, cause, reason, self._last_score, now)

    def _step(self, score: float | None) -> tuple[Level, Cause, str] | None:
        """Move the computed level; returns (published level before, cause, reason) if it moved."""
        before = self.level
        if score is None:
            self._pending.clear()
            return None
        cfg = self.config
        implied = level_for(score, cfg)
        if implied.rank > self._computed.rank:
            self._computed = implied
            self._pending.clear()
            bar = entry_bar(LEVELS[implied.rank - 1], cfg)
            return before, Cause.SCORE, f"score {score:.1f} < {_fmt(bar)} ({implied.value})"

        now = self._clock.monotonic()
        cleared = level_for(score - cfg.margin, cfg)
        for lvl in LEVELS[: self._computed.rank]:
            if cleared.rank <= lvl.rank:
                self._pending.setdefault(lvl, now)
            else:
                self._pending.pop(lvl, None)
        ready = [lvl for lvl, start in self._pending.items() if now - start >= self._hold()]
        if not ready:
            return None
        target = min(ready, key=lambda lvl: lvl.rank)
        held = now - self._pending[target]
        self._computed = target
        self._pending = {lvl: s for lvl, s in self._pending.items() if lvl.rank < target.rank}
        bar = entry_bar(target, cfg) + cfg.margin
        return before, Cause.RECOVERY, f"score {score:.1f} ≥ {_fmt(bar)} for {held:.0f}s ({target.value})"


def restore_or_fresh(data: dict[str, Any] | None, config: Degradation, clock: Clock) -> tuple[LevelTracker, str | None]:
    """A tracker from a stored snapshot, or a fresh one plus the reason the snapshot was unusable."""
    if data is None:
        return LevelTracker(config, clock), None
    try:
        state = TrackerState.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        return LevelTracker(config, clock), f"stored degradation state unusable ({exc!r}); starting at full"
    return LevelTracker.restore(state, config, clock), None
