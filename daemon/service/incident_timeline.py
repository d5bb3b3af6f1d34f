"""An incident's timeline as (time, what, text) rows: `healerd explain` prints them, the status page's
incident page shows them, so both tell the same story in the same words."""

from __future__ import annotations

from typing import Any

from daemon.timefmt import clock_time, iso, span


def at_time(ts: float | None, *, date: bool = False) -> str:
    if ts is None:
        return "-"
    return iso(ts, digits=3) if date else clock_time(ts)


def result_detail(status: str | None, error_class: str | None, message: str | None) -> str:
    """What a check result said, when it was not healthy: `class: message` for a failure, the bare
    message for a warning (degraded has no error class, and its text matters as much)."""
    if status in (None, "healthy"):
        return ""
    return f"{error_class}: {message}" if error_class else (message or "")


def timeline(data: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(time, what, text) rows of the incident, oldest first."""
    rows: list[tuple[float, str, str]] = []
    for run in data["checks"]["runs"]:
        detail = result_detail(run["status"], run["error_class"], run["message"])
        why = f" ({detail})" if detail else ""
        times = f" ×{run['count']} until {at_time(run['last_ts'])}" if run["count"] > 1 else ""
        injected = f" [{run['injected']} injected by chaos]" if run["injected"] else ""
        rows.append((run["first_ts"], "check", f"{run['status']}{times}{why}{injected}"))
    for t in data["transitions"]:
        rows.append((t["ts"], "breaker", f"{t['from_state']} → {t['to_state']}: {t['reason']}"))
    for d in data["decisions"]:
        strategy = f" {d['strategy']}" if d["strategy"] and d["strategy"] != d["kind"] else ""
        what = d["kind"] + (f"{strategy} (step {d['step'] + 1})" if d["step"] is not None else "")
        until = f" [until {at_time(d['until'])}]" if d["until"] is not None else ""
        rows.append((d["ts"], "decision", f"{what}: {d['reason']}{until}"))
    for e in data["events"]:
        strategy = "failback" if e["action"] == "deactivate" else e["strategy"]
        head = f"{strategy} step {e['step'] + 1} attempt {e['attempt']}"
        if e["candidate"]:
            head += f" → {e['candidate']}"
        if e["dry_run"]:
            head += " (dry run)"
        if e["status"] == "started":
            rows.append((e["started_at"], "recovery", f"{head}: started, running"))
            continue
        took = f" after {span(e['finished_at'] - e['started_at'])}" if e["finished_at"] else ""
        code = f", exit {e['exit_code']}" if e["exit_code"] is not None else ""
        verified = f", verified {at_time(e['verified_at'])}" if e["verified_at"] else ""
        first_line = (e["output"] or "").splitlines()[0] if e["output"] else ""
        text = f"{head}: {e['status']}{took}{code}{verified} — {first_line}"
        if e["status"] in ("failed", "interrupted"):
            from daemon.engine.actions import last_lines

            # the verdict is the first line; why the action failed is at the end of its output
            tail = last_lines("\n".join((e["output"] or "").splitlines()[1:]))
            text += "".join(f"\n{' ' * 24}| {line}" for line in tail.splitlines())
        rows.append((e["started_at"], "recovery", text))
    for x in data["escalations"]:
        tries = f", {x['attempts']} attempt(s)" if x["attempts"] else ""
        error = f": {x['error']}" if x["error"] and x["status"] != "delivered" else ""
        rows.append((x["created_at"], "escalation", f"{x['kind']} → {x['channel']}: {x['status']}{tries}{error}"))
    rows.sort(key=lambda r: r[0])
    return rows
