"""The degradation_state row ↔ the level tracker, and the operator's override commands.

Shared by the daemon (DegradationService) and `healerd degrade` when no daemon runs, so an override set
offline is stored exactly as the daemon would store it and the daemon carries on from it at start-up
(the override's deadline is wall-clock, so it ends at the same instant whoever is running then).

The row's `tracker` JSON is the source of truth for a restart; the scalar columns are its rendering for
the views and the sqlite3 shell. A row without usable JSON (written by hand, or by an older healerd) is
read from the scalar columns instead, so it is never silently ignored.
"""

from __future__ import annotations

from typing import Any

from daemon.clock import Clock
from daemon.config.durations import parse_duration
from daemon.config.models import Degradation
from daemon.engine.degradation import LevelChange, LevelTracker, restore_or_fresh
from daemon.timefmt import iso
from daemon.types import Level

SET = "degrade_set"
CLEAR = "degrade_clear"
COMMANDS = (SET, CLEAR)


def _from_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A TrackerState dict rebuilt from the scalar columns (one pending level at most)."""
    override = None
    if row.get("override_level") and row.get("override_until") is not None:
        override = {
            "level": row["override_level"],
            "until": row["override_until"],
            "reason": row.get("override_reason") or "",
            "set_at": row.get("updated_at") or row["override_until"],
        }
    pending = {}
    if row.get("pending_level") and row.get("pending_since") is not None:
        pending[row["pending_level"]] = row["pending_since"]
    return {
        "computed": row["level"],
        "since": row["since"],
        "override": override,
        "taken_at": row.get("updated_at") or row["since"],
        "pending": pending,
    }


def tracker_from_row(row: dict[str, Any] | None, config: Degradation, clock: Clock) -> tuple[LevelTracker, str | None]:
    """The tracker carrying on from the stored row, or a fresh one and the reason the row was unusable."""
    if row is None:
        return restore_or_fresh(None, config, clock)
    data = row.get("tracker")
    if not isinstance(data, dict):
        try:
            data = _from_columns(row)
        except KeyError as exc:
            return restore_or_fresh(None, config, clock)[0], f"stored degradation state unusable ({exc!r})"
    return restore_or_fresh(data, config, clock)


def state_row(tracker: LevelTracker, score: float | None, unknown_count: int, now: float) -> dict[str, Any]:
    """The row to store: `level` is the computed level, the override is in its own columns (as the
    active_degradation view expects), `pending_*` shows the best level being recovered to."""
    snap = tracker.snapshot()
    best = min(snap.pending, key=lambda lvl: lvl.rank, default=None)
    override = snap.override
    return {
        "level": snap.computed.value,
        "score": score,
        "unknown_count": unknown_count,
        "since": snap.since,
        "pending_level": None if best is None else best.value,
        "pending_since": None if best is None else snap.pending[best],
        "override_level": None if override is None else override.level.value,
        "override_until": None if override is None else override.until,
        "override_reason": None if override is None else override.reason,
        "updated_at": now,
        "tracker": snap.to_dict(),
    }


def row_key(row: dict[str, Any]) -> tuple:
    """What makes two rows different for the purpose of re-writing one: everything but the times that
    move by themselves (`updated_at`, the snapshot's `taken_at`, and pending starts re-derived from the
    monotonic clock) — the set of pending levels is kept, so a new pending recovery is stored."""
    tracker = row.get("tracker") or {}
    return (
        row["level"],
        row["score"],
        row["unknown_count"],
        row["since"],
        row["pending_level"],
        row["override_level"],
        row["override_until"],
        row["override_reason"],
        tuple(sorted((tracker.get("pending") or {}).keys())),
    )


def _moved(change: LevelChange) -> str:
    if change.changed:
        return f"level {change.from_level.value} → {change.to_level.value}"
    return f"level stays {change.to_level.value}"


def apply_degrade_command(
    tracker: LevelTracker,
    command: str,
    args: dict[str, Any],
    *,
    now: float,
    requested_at: float | None = None,
    who: str = "operator",
) -> tuple[LevelChange | None, str]:
    """Apply `degrade_set` / `degrade_clear`; returns the change (if any) and the outcome sentence.

    `--for` counts from when the operator asked (`requested_at`, the command's created_at), not from
    when a busy daemon got round to it: "for 1h" then means the hour the operator had in mind. `now`
    is the tracker's clock's wall time.
    Raises ValueError for an invalid command (the caller records it as rejected).
    """
    if command == SET:
        try:
            level = Level(args.get("level"))
        except ValueError:
            known = ", ".join(lv.value for lv in Level)
            raise ValueError(f"unknown level {args.get('level')!r} (one of {known})") from None
        if not args.get("for"):
            raise ValueError("an override needs a duration (--for), so it ends by itself")
        duration = parse_duration(args["for"]).total_seconds()
        if duration <= 0:
            raise ValueError(f"--for must be positive, not {args['for']!r}")
        reason = str(args.get("reason") or f"set by {who}")
        until = (requested_at if requested_at is not None else now) + duration
        if until <= now:
            raise ValueError(f"the override would have ended at {iso(until)}, before it could be applied")
        change = tracker.set_override(level, until, reason)
        return change, f"override {level.value} until {iso(until)} ({reason}); {_moved(change)}"
    if command == CLEAR:
        reason = str(args.get("reason") or f"cleared by {who}")
        cleared = tracker.clear_override(reason)
        if cleared is None:
            return None, f"no override was set; level {tracker.level.value}"
        return cleared, f"override {cleared.from_level.value} cleared ({reason}); {_moved(cleared)}"
    raise ValueError(f"unknown degradation command {command!r}")
