"""What a replay found, per component and incident, next to what actually happened.

Pure: takes the replay's result and the recorded rows, returns plain data (the JSON output) and the
one-line difference an operator reads first ("new policy: 3 fewer retry actions, first escalation 4m
earlier, 2 pages instead of 7").
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from daemon.engine.replay import ReplayResult, SimIncident
from daemon.engine.replay_outcomes import RULE

#: recorded and replayed decisions that show what was done (waits and nothings are the explanation).
NOTABLE = ("open_incident", "run_step", "failback", "escalate", "close_incident")


def stamp(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 10)}Z"


def span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _incident(inc: SimIncident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "opened_at": inc.opened_at,
        "closed_at": inc.closed_at,
        "trigger": inc.trigger,
        "breaker_opened_at": inc.breaker_opened_at,
        "actions": [
            {
                "strategy": "failback" if a.failback else a.strategy,
                "step": a.step,
                "attempt": a.attempt,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "outcome": "healed" if a.succeeded else "failed",
                "basis": a.basis,
                "rule": a.rule,
                "candidate": a.candidate,
            }
            for a in inc.actions
        ],
        "escalations": [{"ts": ts, "kind": kind, "channels": list(channels)} for ts, kind, channels in inc.escalations],
    }


def summarise(result: ReplayResult, recorded: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    """recorded: component → {"events", "incidents", "escalations", "opens", "decisions"} rows."""
    components = {}
    for name in sorted(result.incidents):
        rec = recorded.get(name, {})
        sim_incidents = result.incidents[name]
        sim_actions = Counter(("failback" if a.failback else a.strategy) for i in sim_incidents for a in i.actions)
        rec_actions = Counter(
            ("failback" if e["action"] == "deactivate" else e["strategy"]) for e in rec.get("events", [])
        )
        sim_pages = sum(len(ch) for i in sim_incidents for _, kind, ch in i.escalations if kind != "resolved")
        rec_pages = sum(1 for e in rec.get("escalations", []) if e["kind"] != "resolved")
        sim_first = min((ts for i in sim_incidents for ts, kind, _ in i.escalations if kind == "initial"), default=None)
        rec_first = min((e["ts"] for e in rec.get("escalations", []) if e["kind"] == "initial"), default=None)
        estimated = [a for i in sim_incidents for a in i.actions if a.basis != "recorded"]
        sim_opens = sum(1 for t in result.transitions[name] if t["to"] == "open")
        entry: dict[str, Any] = {
            "replayed": {
                "breaker_opens": sim_opens,
                "incidents": len(sim_incidents),
                "actions": dict(sim_actions),
                "pages": sim_pages,
                "first_escalation": sim_first,
                "estimated_outcomes": len(estimated),
                "synthetic_healthy_results": result.synthetic.get(name, 0),
                "incident_detail": [_incident(i) for i in sim_incidents],
                "decisions": result.decisions[name],
            },
            "recorded": {
                "breaker_opens": len(rec.get("opens", [])),
                "incidents": len(rec.get("incidents", [])),
                "actions": dict(rec_actions),
                "pages": rec_pages,
                "first_escalation": rec_first,
                "incident_detail": rec.get("incidents", []),
                "decisions": rec.get("decisions", []),
            },
        }
        entry["difference"] = difference(entry)
        components[name] = entry
    return {
        "start": result.start,
        "end": result.end,
        "results": result.results,
        "estimate_rule": RULE,
        "components": components,
    }


def difference(entry: dict[str, Any]) -> str:
    new, old = entry["replayed"], entry["recorded"]
    parts = []
    for strategy in sorted(set(new["actions"]) | set(old["actions"])):
        n, o = new["actions"].get(strategy, 0), old["actions"].get(strategy, 0)
        if n != o:
            noun = "action" if abs(n - o) == 1 else "actions"
            parts.append(f"{abs(n - o)} {'fewer' if n < o else 'more'} {strategy} {noun}")
    nf, of = new["first_escalation"], old["first_escalation"]
    if nf is not None and of is not None and abs(nf - of) >= 1:
        parts.append(f"first escalation {span(nf - of)} {'earlier' if nf < of else 'later'}")
    elif nf is not None and of is None:
        parts.append(f"an escalation at {stamp(nf)} (none recorded)")
    elif nf is None and of is not None:
        parts.append("no escalation (recorded: one)")
    if new["pages"] != old["pages"]:
        parts.append(f"{new['pages']} page{'s' if new['pages'] != 1 else ''} instead of {old['pages']}")
    if new["incidents"] != old["incidents"]:
        parts.append(f"{new['incidents']} incidents instead of {old['incidents']}")
    text = "new policy: " + ", ".join(parts) if parts else "same as recorded"
    if new["estimated_outcomes"]:
        text += f" ({new['estimated_outcomes']} outcome(s) estimated)"
    return text


def table(summary: dict[str, Any]) -> str:
    lines = [f"replayed {summary['results']} results from {stamp(summary['start'])} to {stamp(summary['end'])}"]
    for name, entry in summary["components"].items():
        new, old = entry["replayed"], entry["recorded"]
        lines.append("")
        lines.append(f"{name}: {entry['difference']}")
        lines.append(
            f"  replayed: {new['breaker_opens']} breaker opens, {new['incidents']} incidents, "
            f"actions {_counts(new['actions'])}, pages {new['pages']}"
        )
        lines.append(
            f"  recorded: {old['breaker_opens']} breaker opens, {old['incidents']} incidents, "
            f"actions {_counts(old['actions'])}, pages {old['pages']}"
        )
        for inc in new["incident_detail"]:
            lines.append(
                f"  incident {inc['id']} ({inc['trigger']}): opened {stamp(inc['opened_at'])}, "
                f"breaker opened {stamp(inc['breaker_opened_at'])}, closed {stamp(inc['closed_at'])}"
            )
            for a in inc["actions"]:
                label = "recorded" if a["basis"] == "recorded" else f"{a['basis'].upper()}: {a['rule']}"
                lines.append(
                    f"    {stamp(a['started_at'])} {a['strategy']} step {a['step'] + 1} attempt {a['attempt']}"
                    f"{' → ' + a['candidate'] if a['candidate'] else ''}: {a['outcome']} "
                    f"at {stamp(a['finished_at'])} [{label}]"
                )
            for e in inc["escalations"]:
                lines.append(f"    {stamp(e['ts'])} escalation {e['kind']} → {', '.join(e['channels'])}")
        exhausted = [d for d in new["decisions"] if d["kind"] == "escalate" and " used in " in d["reason"]]
        for d in exhausted[:3]:
            lines.append(f"    {stamp(d['ts'])} budget spent: {d['reason']}")
        if new["synthetic_healthy_results"]:
            lines.append(
                f"  ESTIMATED: {new['synthetic_healthy_results']} recorded failing results replayed as "
                "healthy after an estimated heal"
            )
    lines.append("")
    lines.append(f"estimates: {summary['estimate_rule']}")
    return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"
