"""What one escalation says, the same fields for every channel kind (pure: no delivery here).

The webhook's JSON body (plus a Slack-compatible one-line `text`), the `run` channel's HEALERD_*
environment, the email's body and the log event's keys are all views of one `Notification`, so a
receiver sees the same facts whichever channel carried them.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from daemon.timefmt import iso


@dataclass(frozen=True)
class Notification:
    component: str
    incident: int | str | None
    kind: str  # initial | reminder | resolved
    status: str
    reason: str
    error: str | None = None
    link: str | None = None
    ts: float = field(default_factory=time.time)
    #: which machine is sick: one receiver usually hears from many hosts' healerd.
    host: str = field(default_factory=lambda: os.uname().nodename)  # what gethostname() returns
    #: the last failed recovery step and the end of its output (why "exit 1"), when there is one.
    last_action: str | None = None

    @property
    def timestamp(self) -> str:
        return iso(self.ts)

    def text(self) -> str:
        """One line for chat (Slack's `text`), email subjects and logs."""
        what = {"resolved": "resolved", "reminder": "still failing", "initial": "needs attention"}.get(
            self.kind, self.kind
        )
        incident = f" (incident {self.incident})" if self.incident is not None else ""
        line = f"healerd@{self.host}: {self.component} {what}{incident}: {self.status}"
        if self.reason:
            line += f" — {self.reason}"
        if self.error and self.kind != "resolved":
            line += f"; last error: {self.error}"
        if self.last_action and self.kind != "resolved":
            line += f"; last action: {self.last_action}"
        if self.link:
            line += f" {self.link}"
        return " ".join(line.split())

    def fields(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": self.timestamp, "text": self.text()}

    def environment(self) -> dict[str, str]:
        values = {
            "HEALERD_COMPONENT": self.component,
            "HEALERD_INCIDENT": "" if self.incident is None else str(self.incident),
            "HEALERD_KIND": self.kind,
            "HEALERD_HOST": self.host,
            "HEALERD_LAST_ACTION": self.last_action or "",
            "HEALERD_STATUS": self.status,
            "HEALERD_REASON": self.reason,
            "HEALERD_ERROR": self.error or "",
            "HEALERD_LINK": self.link or "",
            "HEALERD_TIMESTAMP": self.timestamp,
            "HEALERD_TEXT": self.text(),
        }
        return values


def incident_link(base: str | None, incident: int | str | None) -> str | None:
    """`daemon.incident_url` + the incident id: `{incident}` in the base is replaced, else appended."""
    if not base or incident is None:
        return None
    if "{incident}" in base:
        return base.replace("{incident}", str(incident))
    return base + str(incident) if base.endswith(("/", "=")) else f"{base}/{incident}"
