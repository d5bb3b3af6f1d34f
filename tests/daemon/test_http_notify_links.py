"""A running daemon escalates through the apprise and alertmanager channels to local receivers, and with
[http] on each message links to the incident page that the daemon serves."""

from __future__ import annotations

import httpx
from helpers import wait_until
from http_kit import FAILING, http_url, tcp_component
from receivers import Receiver

ESCALATE = '[[component.recovery]]\nstrategy = "escalate"\nnotify = ["am", "chat"]\nrepeat_every = "1h"\n'


def test_escalations_reach_alertmanager_and_apprise_receivers_with_a_link_to_the_served_incident_page(
    config_dir, start_daemon, free_port
):
    am, chat = Receiver(), Receiver()
    try:
        config_dir.policy("a.toml", tcp_component("db", free_port(), FAILING + ESCALATE))
        config_dir.settings(f"""
            [http]
            enabled = true
            port = 0

            [notify.am]
            kind = "alertmanager"
            url = "http://127.0.0.1:{am.port}"
            retries = 0

            [notify.chat]
            kind = "apprise"
            urls = ["json://127.0.0.1:{chat.port}/chat"]
            retries = 0
        """)
        d = start_daemon(config_dir)
        url = http_url(d)
        wait_until(lambda: am.posts and chat.posts, 30)
        [alert] = am.posts[0]["body"]
        assert am.posts[0]["path"] == "/api/v2/alerts"
        assert alert["labels"]["component"] == "db" and alert["labels"]["severity"] == "critical"
        assert alert["labels"]["alertname"] and alert["labels"]["host"]
        link = alert["generatorURL"]
        assert link == f"{url}/incidents/{alert['annotations']['incident']}"
        assert "refused" in alert["annotations"]["summary"]
        message = chat.posts[0]["body"]["message"]
        assert "db" in message and link in message
        page = httpx.get(link, timeout=20, trust_env=False)
        assert page.status_code == 200 and "db" in page.text and "incident #" in page.text
        wait_until(lambda: d.query("SELECT count(*) FROM escalations WHERE status = 'delivered'")[0][0] == 2, 20)
        assert d.stop() == 0
    finally:
        am.close()
        chat.close()
