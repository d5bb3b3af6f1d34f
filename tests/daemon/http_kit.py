"""What the HTTP tests share: two components (one healthy, one refused) and the daemon's bound URL."""

from __future__ import annotations

import json

from helpers import wait_until

POLICIES = """
[[component]]
name = "web"
[component.check]
kind = "tcp"
port = {web_port}
every = "1s"
timeout = "500ms"

[[component]]
name = "db"
[component.check]
kind = "tcp"
port = {db_port}
every = "1s"
timeout = "500ms"
[component.breaker]
consecutive_failures = 2
open_for = "1h"
max_open_for = "2h"
"""


def http_url(d) -> str:
    """The URL the daemon logged when it started listening (it was told port 0)."""
    def find():
        for line in d.log.read_text().splitlines():
            if '"http listening"' in line:
                return json.loads(line)["url"]
        return None
    return wait_until(find, 20, message=lambda: d.log.read_text()[-2000:])
