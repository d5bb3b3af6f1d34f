"""A recorded chaos run as a Chaos Toolkit–style journal, so other tools can read healerd's results.

The run's events (chaos_events rows, written by service/chaos/run.py as the run goes) are the source;
this only reshapes them, so the export cannot disagree with what the database says happened. Mapping:

* `status`: passed → completed; failed and refused → failed (Chaos Toolkit also calls an experiment
  whose hypothesis did not hold before the method "failed", with `deviated` false); aborted and
  interrupted keep their names; a run still going is `running`.
* `deviated`: the steady state did not hold after the method, or the safety floor was breached during it.
* `steady_states.before/after`: the steady-state probes (score ≥ min_score); `during`: what was
  observed while the fault was in force (detection, level changes, recovery, an abort).
* `run[]`: the injection, the observation window, the revert; `rollbacks[]`: the rollback action.
  An activity whose intent was recorded but never its end (a daemon killed mid-action) is `failed`
  with output "interrupted".
"""

from __future__ import annotations

from typing import Any

from daemon import timefmt

STATUS = {
    "passed": "completed",
    "failed": "failed",
    "refused": "failed",
    "aborted": "aborted",
    "interrupted": "interrupted",
    "running": "running",
}
RUN_STEPS = ("inject", "observe", "revert")
ROLLBACK_STEPS = ("rollback",)
DURING_STEPS = ("detected", "level", "recovered", "reopened", "abort")
FINAL = ("succeeded", "failed", "skipped")


def iso(ts: float | None) -> str | None:
    return None if ts is None else timefmt.iso(ts, digits=6)


def _activity(event: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    data = event.get("data") or {}
    start = data.get("start", event["ts"])
    end = data.get("end", event["ts"])
    activity = data.get("activity") or {"type": "action", "name": event["step"]}
    entry = {
        "activity": activity,
        "status": status or event["status"],
        "output": data.get("output", event.get("message")),
        "start": iso(start),
        "end": iso(end),
        "duration": round(max(0.0, end - start), 6),
    }
    if entry["status"] == "failed" and event.get("message"):
        entry["exception"] = [event["message"]]
    return entry


def _activities(events: list[dict[str, Any]], steps: tuple[str, ...]) -> list[dict[str, Any]]:
    """Final events of these steps in order; an intent ("started") with no final event → failed."""
    out: list[dict[str, Any]] = []
    pending: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["step"] not in steps:
            continue
        if event["status"] == "started":
            pending[event["step"]] = event
            continue
        pending.pop(event["step"], None)
        out.append(_activity(event, event["status"] if event["status"] in FINAL else "succeeded"))
    for event in pending.values():
        entry = _activity(event, "failed")
        entry["output"] = "interrupted"
        entry["end"] = None
        entry["duration"] = None
        out.append(entry)
    out.sort(key=lambda e: e["start"] or "")
    return out


def _probe(event: dict[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    data = event.get("data") or {}
    return {
        "steady_state_met": event["status"] == "met",
        "probes": [
            {
                "activity": {
                    "type": "probe",
                    "name": "health score at least min_score",
                    "tolerance": {"min_score": data.get("min_score")},
                },
                "status": "succeeded",
                "output": {"score": data.get("score"), "level": data.get("level")},
                "tolerance_met": event["status"] == "met",
                "start": iso(data.get("start", event["ts"])),
                "end": iso(data.get("end", event["ts"])),
                "duration": round(max(0.0, data.get("end", event["ts"]) - data.get("start", event["ts"])), 6),
            }
        ],
    }


def _last(events: list[dict[str, Any]], step: str) -> dict[str, Any] | None:
    found = [e for e in events if e["step"] == step]
    return found[-1] if found else None


def build_journal(
    run: dict[str, Any], experiment_name: str, events: list[dict[str, Any]], version: str = ""
) -> dict[str, Any]:
    """`run`: the chaos_runs row as a dict; `events`: its chaos_events rows (dicts, data decoded)."""
    events = sorted(events, key=lambda e: (e["ts"], e.get("id", 0)))
    start_event = _last(events, "start")
    spec = dict((start_event or {}).get("data", {}).get("experiment") or {"name": experiment_name})
    spec.setdefault("title", spec.get("name", experiment_name))
    after = _last(events, "steady_state_after")
    aborted = _last(events, "abort") is not None
    during = []
    for event in events:
        if event["step"] in DURING_STEPS:
            data = event.get("data") or {}
            during.append(
                {
                    "steady_state_met": data.get("steady_state_met"),
                    "probes": [
                        {
                            "activity": {"type": "probe", "name": event["step"]},
                            "status": "succeeded",
                            "output": {"message": event.get("message"), **data},
                            "start": iso(event["ts"]),
                            "end": iso(event["ts"]),
                            "duration": 0.0,
                        }
                    ],
                }
            )
    started, finished = run.get("started_at"), run.get("finished_at")
    verdict = run.get("verdict") or "running"
    return {
        "chaoslib-version": None,
        "generated_by": f"healerd {version}".strip(),
        "experiment": spec,
        "start": iso(started),
        "end": iso(finished),
        "duration": None if started is None or finished is None else round(finished - started, 6),
        "status": STATUS.get(verdict, verdict),
        "deviated": bool(aborted or (after is not None and after["status"] != "met")),
        "steady_states": {
            "before": _probe(_last(events, "steady_state_before")),
            "after": _probe(after),
            "during": during,
        },
        "run": _activities(events, RUN_STEPS),
        "rollbacks": _activities(events, ROLLBACK_STEPS),
        "healerd": {
            "run_id": run.get("id"),
            "verdict": verdict,
            "reason": run.get("reason"),
            "trigger": run.get("trigger"),
            "dry_run": bool(run.get("dry_run")),
            "injected_at": iso(run.get("injected_at")),
            "detected_at": iso(run.get("detected_at")),
            "recovered_at": iso(run.get("recovered_at")),
            "reverted_at": iso(run.get("reverted_at")),
            "min_score": run.get("min_score"),
            "max_level": run.get("max_level"),
            "recommendations": run.get("recommendations") or [],
        },
    }
