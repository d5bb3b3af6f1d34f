"""Fast replay: a quiet component's plain healthy results are folded, everything else is fed one by one.

Why this is the same replay, not a copy of it. A component is *quiet* when its status is plain healthy
(no error class, no maintenance), its breaker `absorbs()` healthy results (CLOSED, no failure in the
window), no action runs, no estimated heal is pending, and `is_quiet()` holds (no incident, nothing in
progress, the last recorded decision a Nothing). For such a component another plain healthy result, fed
through `Replay._result`, changes only what nobody reads until its next other result:

- `status`, `error_class`, `maintenance` stay the same, so decide()'s views of it (`_deps`, `_healths`)
  are not touched and no other component can tell;
- the breaker only fills its window and counts successes (`CircuitBreaker.feed_many` does that in one
  step, a test pins it to the same state as one feed() per result);
- `observe_health` keeps `healthy_since` (already set) and clears `steps` and `repeats` once enough
  healthy time has passed since it — a rule monotone in time, so applying it at the last of the results
  gives what applying it at each one gives;
- `checked_at` is the last result's instant; the healer pass returns at `is_quiet()` (its acks, which
  change nothing without an incident, are popped up to the last result as each pass would have);
- the component's own timers (a stale breaker tick, a wake, a finished action) do nothing while it is
  quiet, and the clock is set by each later event itself.

None of those hold through a result that is not plain healthy, and only such a result can end them (a
quiet component's state changes through its own results only), so every one of them is in
`FoldSource.changes()`. The driver merges, in (ts, id) order, that stream with the results of each
component that is not quiet (`FoldSource.detail()`, a few at a time) and the replay's timers; before a
quiet component's next non-plain result it folds the plain ones in between (`FoldSource.gap()`: a
count and two instants from the index). Each fed result then meets the state it would have met had
every result been fed — tests compare both replays on recorded and on randomised histories.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from daemon.engine.heal_apply import is_quiet
from daemon.engine.ladder import observe_health
from daemon.engine.replay import _STATUS, Replay, ReplayResult, _Comp
from daemon.types import Status

if TYPE_CHECKING:  # the source is handed in by the CLI: the engine stays free of the store
    from daemon.store.replay_sql import FoldSource

_DETAIL_FIRST = 16
_DETAIL_MAX = 4096
#: heap entries sort by (ts, id), then a change before the same result's detail entry (which it defers to)
_CHANGE, _DETAIL = 0, 1


def quiet(comp: _Comp) -> bool:
    """Whether plain healthy results of this component can be folded (see the module docstring)."""
    return (
        comp.status is Status.HEALTHY
        and comp.error_class is None
        and not comp.maintenance
        and comp.ladder.healthy_since is not None
        and comp.running is None
        and not comp.healed
        and comp.breaker.absorbs(Status.HEALTHY)
        and is_quiet(comp.ladder, comp.breaker.state, comp.last_key)
    )


def fold(replay: Replay, comp: _Comp, count: int, last: float) -> None:
    """`count` plain healthy results of a quiet component, the last at `last`, in one step."""
    comp.breaker.feed_many(Status.HEALTHY, None, count)
    comp.ladder = observe_health(
        comp.ladder, Status.HEALTHY, comp.breaker.state, last, replay._reset_after, replay._repeats_reset
    )
    comp.checked_at = last
    replay._apply_acks(comp, last)
    replay.results += count


class _Detail:
    """One component's results, read a few at a time while it is not quiet."""

    __slots__ = ("at", "limit", "rows")

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.at = 0
        self.limit = _DETAIL_FIRST


def run_folded(replay: Replay, source: FoldSource, until: float | None = None) -> ReplayResult:
    """The replay of every result `source` holds, as `replay.run(stream_results(...))` would give it."""
    comps, timers = replay.comps, replay._timers
    names = [n for n in source.ids if n in comps]
    #: a component's last fed or folded position: (ts, id)
    pos: dict[str, tuple[float, int] | None] = dict.fromkeys(names)
    detail: dict[str, _Detail] = {}
    heap: list[tuple] = []
    last_ts: float | None = None

    def next_detail(name: str) -> None:
        d = detail[name]
        if d.at >= len(d.rows):
            d.rows = source.detail(name, pos[name], d.limit)
            d.at = 0
            d.limit = min(d.limit * 2, _DETAIL_MAX)
            if not d.rows:
                return
        ts, rid, status, error_class, maintenance = d.rows[d.at]
        d.at += 1
        heapq.heappush(heap, (ts, rid, _DETAIL, name, status, error_class, maintenance))

    changes = source.changes()

    def next_change() -> None:
        for name, ts, rid, status, error_class, maintenance in changes:
            if name in pos:
                heapq.heappush(heap, (ts, rid, _CHANGE, name, status, error_class, maintenance))
                return

    for name in names:  # every component starts not quiet (its status is unknown)
        detail[name] = _Detail()
        next_detail(name)
    next_change()
    while heap:
        ts, rid, kind, name, status, error_class, maintenance = heapq.heappop(heap)
        comp = comps[name]
        if kind == _CHANGE:
            next_change()
            after = pos[name]
            if name in detail or (after is not None and (ts, rid) <= after):
                continue  # its results come one by one from detail()
            assert after is not None, "a component leaves detail() only after its first result"
            count, last = source.gap(name, after, (ts, rid))
            if count and last is not None:
                fold(replay, comp, count, last)
        if replay.start is None:
            replay.start = ts
            replay.clock.t = ts
        while timers and timers[0][0] <= ts:
            replay._fire(*heapq.heappop(timers))
        replay.results += 1
        replay._result(comp, ts, _STATUS[status], error_class, bool(maintenance))
        pos[name] = (ts, rid)
        last_ts = ts
        if quiet(comp):
            detail.pop(name, None)
        else:
            if name not in detail:
                detail[name] = _Detail()
            next_detail(name)
    for name in names:
        after = pos[name]
        if name not in detail and after is not None:
            count, last = source.gap(name, after, None)
            if count and last is not None:
                fold(replay, comps[name], count, last)
                last_ts = last if last_ts is None else max(last_ts, last)
    if last_ts is not None:
        replay.advance(last_ts)  # what was due before the last (folded) results
        replay.clock.t = max(replay.clock.t, last_ts)
    end = until if until is not None else replay.clock.t
    replay.advance(end)
    replay.clock.t = max(replay.clock.t, end)
    return replay.result()
