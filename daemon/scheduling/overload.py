"""When the host cannot keep up, check less often instead of collapsing.

Far past capacity (the reference machine runs ~1,000–1,500 checks/s per core), one job per component
at its configured interval makes every run late, most of them missed, and the event loop spends its
time dispatching runs that cannot start: 10,000 checks every second collapsed to ~80 recorded
checks/s. Stretching every interval by a power of two (×4 at once when more than half the runs are late) until
runs are on time again keeps the daemon
doing as much checking as the host allows, spread evenly, and says so (log, STATUS=, statistics).
Going back is slower than going forward (several calm windows in a row), so it does not oscillate.

A pure function of the last window's figures, so it is tested exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_STRETCH = 32
#: a window with more than this share of late runs (or any missed run) is overloaded
LATE_SHARE_LIMIT = 0.05
#: calm windows in a row (no miss, almost nothing late) before halving the stretch
CALM_WINDOWS = 3
CALM_LATE_SHARE = 0.005
#: fewer runs than this in a window say nothing either way
MIN_RUNS = 20
#: past this share of late or missed runs the host is far behind: stretch ×4 in one step
FAR_BEHIND_SHARE = 0.5


@dataclass(frozen=True)
class Window:
    """What the scheduler saw since the last evaluation."""

    submitted: int
    late: int
    missed: int


@dataclass(frozen=True)
class LoadState:
    stretch: int = 1
    calm: int = 0
    #: the window right after a change still carries runs due under the old intervals: skip it
    settling: bool = False


def next_load_state(state: LoadState, window: Window) -> tuple[LoadState, str | None]:
    """The stretch for the next window, and a reason when it changed."""
    if state.settling:
        return LoadState(state.stretch, 0), None
    runs = window.submitted + window.missed
    if runs < MIN_RUNS and window.missed == 0:
        return state, None
    late_share = (window.late + window.missed) / runs if runs else 0.0
    if window.missed > 0 or late_share > LATE_SHARE_LIMIT:
        if state.stretch >= MAX_STRETCH:
            return LoadState(state.stretch, 0), None
        new = min(MAX_STRETCH, state.stretch * (4 if late_share > FAR_BEHIND_SHARE else 2))
        return LoadState(new, 0, settling=True), (
            f"the host cannot keep up ({late_share:.0%} of runs late or missed, {window.missed} missed): "
            f"check intervals ×{new}"
        )
    if state.stretch > 1 and late_share <= CALM_LATE_SHARE:
        calm = state.calm + 1
        if calm >= CALM_WINDOWS:
            new = state.stretch // 2
            return LoadState(new, 0, settling=True), (
                f"runs on time for {CALM_WINDOWS} windows: check intervals "
                + ("back to configured" if new == 1 else f"×{new}")
            )
        return LoadState(state.stretch, calm), None
    return LoadState(state.stretch, 0), None
