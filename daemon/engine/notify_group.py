"""Fold the escalations raised together for one channel into one message (issue 10's `group_wait`).

Alertmanager's grouping, kept channel-agnostic: the result is an ordinary `Notification`, so every
channel kind (webhook, run, email, log, and any registered later) delivers it unchanged. One message
stays exactly as it was; several become one whose `component` names them all, whose `status` says how
many, and whose `reason` keeps each one's own line (status, reason, last error) in order. Resolved
messages are grouped only with resolved ones, and never dropped: grouping changes how many messages
are sent, never which facts reach the operator.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.engine.notification import Notification


def waiting_note(dependents: Sequence[str]) -> str:
    """What a root cause's escalation adds: the dependents whose incidents wait on it."""
    return f"waiting on it: {', '.join(sorted(dependents))}" if dependents else ""


def combine(messages: Sequence[Notification]) -> Notification:
    if not messages:
        raise ValueError("nothing to combine")
    if len(messages) == 1:
        return messages[0]
    ordered = sorted(messages, key=lambda m: (m.ts, m.component))
    names = list(dict.fromkeys(m.component for m in ordered))
    kinds = {m.kind for m in ordered}
    kind = "resolved" if kinds == {"resolved"} else "initial" if "initial" in kinds else ordered[0].kind
    lines = []
    for m in ordered:
        incident = f" (incident {m.incident})" if m.incident is not None else ""
        error = f"; last error: {m.error}" if m.error and m.kind != "resolved" else ""
        action = f"; last action: {m.last_action}" if m.last_action and m.kind != "resolved" else ""
        lines.append(f"{m.component}{incident} {m.kind}: {m.status} — {m.reason}{error}{action}")
    incidents = {m.incident for m in ordered}
    links = {m.link for m in ordered}
    single = len(names) == 1
    return Notification(
        component=", ".join(names),
        # one incident's messages (an initial and its reminder) keep what they share
        incident=next(iter(incidents)) if len(incidents) == 1 else None,
        kind=kind,
        status=ordered[-1].status
        if single
        else f"{len(ordered)} {'resolved' if kind == 'resolved' else 'escalations'} for {len(names)} component(s)",
        reason=" | ".join(lines),
        error=ordered[-1].error if single else None,
        link=next(iter(links)) if len(links) == 1 else None,
        ts=ordered[-1].ts,
        host=ordered[-1].host,  # one daemon's messages: one host
        last_action=ordered[-1].last_action if single else None,
    )
