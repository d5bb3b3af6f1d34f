"""What the HTTP tests share: two components (one healthy, one refused) and the daemon's bound URL."""

from __future__ import annotations

import json

from helpers import wait_until


def tcp_component(name: str, port: int, extra: str = "") -> str:
    """A tcp check every second; `db` below opens its breaker after two refusals and stays open."""
    return (
        f'[[component]]\nname = "{name}"\n[component.check]\nkind = "tcp"\nport = {port}\n'
        f'every = "1s"\ntimeout = "500ms"\n{extra}'
    )


FAILING = '[component.breaker]\nconsecutive_failures = 2\nopen_for = "1h"\nmax_open_for = "2h"\n'


def policies(web_port: int, db_port: int) -> str:
    """`web` healthy (a listener), `db` refused (nothing listens)."""
    return tcp_component("web", web_port) + "\n" + tcp_component("db", db_port, FAILING)


def http_url(d, nth: int = 1) -> str:
    """The URL the daemon logged the nth time it started listening (it was told port 0)."""

    def find():
        urls = [json.loads(line)["url"] for line in d.log.read_text().splitlines() if '"http listening"' in line]
        return urls[nth - 1] if len(urls) >= nth else None

    return wait_until(find, 20, message=lambda: d.log.read_text()[-2000:])
