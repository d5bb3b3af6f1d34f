"""The healer's memory of every ladder: in memory for decide(), in `ladder_state` for the next start.

Rules that keep the two equal (and equal to the history rows):
- Every change goes through a pure reducer of engine/ladder.py while holding the component's lock, and
  the new state's JSON is submitted to the single writer in the same call as the row it accounts for
  (incident, recovery event, escalation). The writer commits calls in submission order, so the newest
  submitted snapshot is the one that ends up stored.
- Check results arrive on the monitor's thread of control at any moment; they are queued here and
  folded in (`observe_health`) under the lock at the start of the component's next pass, so a result
  never slips between a decision and the write that records it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import structlog

from daemon.engine.ladder import LadderState, observe_health
from daemon.store.intent_journal import apply_entry, entry
from daemon.types import BreakerState, Status

log = structlog.get_logger(__name__)


def mirror(state: LadderState, cooldown: float) -> dict[str, Any]:
    """The scalar columns of `ladder_state`, derived from the JSON, for the sqlite3 shell."""
    waits = [(rec.next_at, rec.prev_delay) for rec in state.steps.values() if rec.next_at is not None]
    next_at, prev = min(waits) if waits else (None, None)
    return {
        "incident_id": state.incident.id if state.incident is not None else None,
        "step": state.in_progress.index if state.in_progress is not None else None,
        "next_attempt_at": next_at,
        "backoff_prev_s": prev,
        "cooldown_until": state.last_success_at + cooldown if state.last_success_at is not None else None,
        "healthy_since": state.healthy_since,
    }


class LadderBook:
    def __init__(self, component_ids: Callable[[], dict[str, int]], cooldown: Callable[[], float]) -> None:
        self._ids = component_ids
        self._cooldown = cooldown
        self.ladders: dict[str, LadderState] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        #: (status, breaker state, wall time) per component, oldest first, not yet folded in.
        self._observed: defaultdict[str, list[tuple[Status, BreakerState, float]]] = defaultdict(list)
        #: components whose folded-in observations changed the state but are not stored yet.
        self.dirty: set[str] = set()
        #: called with a component's name when a flapping incident opens or closes for it (the
        #: degradation score counts a flapping component as degraded, and is not otherwise poked)
        self.flapping_listeners: list[Callable[[str], None]] = []
        #: components the next pass must look at: a result queued, a state set, a breaker moved (the
        #: healer adds those). A pass drops the ones it found quiet, so a healthy fleet is not walked.
        self.attention: set[str] = set()

    def get(self, name: str) -> LadderState:
        return self.ladders.get(name) or LadderState()

    def component_id(self, name: str) -> int | None:
        return self._ids().get(name)

    # --- loading -------------------------------------------------------------------------------------

    def load(self, stored: dict[str, str | None]) -> list[str]:
        """Parse the stored JSON; a row that does not parse starts fresh (and is reported, not fatal)."""
        problems = []
        for name, text in stored.items():
            try:
                self.ladders[name] = LadderState.from_json(text)
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"{name}: stored ladder state unreadable ({exc}); starting it fresh")
                self.ladders[name] = LadderState()
        return problems

    # --- check results -------------------------------------------------------------------------------

    def observe(self, name: str, status: Status, breaker: BreakerState, at: float) -> None:
        """Queue a result for the next pass; one that cannot change the ladder is not queued at all.

        A healthy result on a ladder that is already healthy since earlier, with no budgets or repeats
        left to reset, folds to the very same state (`observe_health`), so a quiet component costs the
        healer nothing per check and drops out of `attention` (issue 11). While a pass holds the
        component's lock the state may be about to change, so the result is queued as before.
        """
        if status is Status.HEALTHY and breaker in _PASSING and name not in self._observed:
            state = self.ladders.get(name)
            lock = self.locks.get(name)
            if (
                state is not None
                and state.healthy_since is not None
                and not state.steps
                and not state.repeats
                and (lock is None or not lock.locked())
            ):
                return
        queue = self._observed[name]
        queue.append((status, breaker, at))
        if len(queue) > 1000:  # a component with no pass for a long while: keep what decides healthy_since
            del queue[:-1000]
        self.attention.add(name)

    def fold(self, name: str, budget_reset_after: float, repeats_reset_after: float = 600.0) -> LadderState:
        """Apply the queued observations (caller holds the lock); marks the component dirty if changed."""
        queue = self._observed.pop(name, None)
        state = self.get(name)
        if not queue:
            return state
        new = state
        for status, breaker, at in queue:
            new = observe_health(new, status, breaker, at, budget_reset_after, repeats_reset_after)
        if new != state:
            self.ladders[name] = new
            self.dirty.add(name)
        return new

    def settle(self, name: str) -> None:
        """A pass found the component quiet: leave it out of the next passes until something happens."""
        if name not in self._observed and name not in self.dirty:
            self.attention.discard(name)

    def set(self, name: str, state: LadderState) -> None:
        before = self.ladders.get(name)
        self.ladders[name] = state
        self.dirty.discard(name)
        self.attention.add(name)
        if _flapping(before) != _flapping(state):
            for listener in self.flapping_listeners:
                listener(name)


#: breaker states that let traffic through: only then does a healthy result count as healthy
_PASSING = frozenset({BreakerState.CLOSED, BreakerState.DISABLED})


def _flapping(state: LadderState | None) -> bool:
    return state is not None and state.incident is not None and state.incident.flapping


def store_fn(component_id: int | None, state: LadderState, cooldown: float, now: float) -> Callable[[Any], None]:
    """fn(conn) that stores `state`; the JSON is made now, so later changes cannot leak into this write.

    While a fallback is active, `fallback_state.primary_healthy_since` follows the ladder's
    `healthy_since` (the failback clock), so the table tells the same story as the ladder.
    """
    op = ladder_op(component_id, state, cooldown, now)

    def store(conn) -> None:
        if op is not None:
            apply_entry(conn, entry(None, [op]))

    return store


def ladder_op(component_id: int | None, state: LadderState, cooldown: float, now: float) -> dict[str, Any] | None:
    """The same write as `store_fn`, as data (an op of store/intent_journal.py); None without an id."""
    if component_id is None:
        return None
    cols = mirror(state, cooldown)
    if cols["incident_id"] is not None:
        cols["incident_id"] = int(cols["incident_id"])
    return {
        "op": "ladder",
        "component_id": component_id,
        "ladder": state.to_json(),
        "mirror": cols,
        "now": now,
        "fallback_active": state.fallback is not None,
        "healthy_since": state.healthy_since,
    }
