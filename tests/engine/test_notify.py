"""Notifications to real receivers: an HTTP server on 127.0.0.1:0, a script, an aiosmtpd server, the
log; retries with backoff; escalation rows written pending before sending and finished after."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from acting_kit import RecordingServer, closed_port, http_server  # noqa: F401
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, LoginPassword
from helpers import open_db, wait_until
from structlog.testing import capture_logs

from daemon.config.models import Backoff, SettingsFile
from daemon.engine.notification import Notification, incident_link
from daemon.engine.notify import deliver
from daemon.store import escalations_sql as sql

FAST = Backoff(initial=timedelta(milliseconds=10), max=timedelta(milliseconds=40), multiplier=2.0, jitter="none")


def channel(**data):
    """A channel as the config loader builds it (through healerd.toml's model)."""
    return SettingsFile.model_validate({"notify": {"c": data}}).notify["c"]


def message(**over) -> Notification:
    base = {
        "component": "app",
        "incident": 12,
        "kind": "initial",
        "status": "unhealthy",
        "reason": "retry 3/3 used in 10m; restore: no checkpoint",
        "error": "refused",
        "link": incident_link("http://dash.local/incidents", 12),
        "ts": 1_700_000_000.0,
        "host": "web1",
        "last_action": "retry step 1 attempt 3: exit 1: Traceback (most recent call last): | OSError: disk full",
    }
    return Notification(**{**base, **over})


class Sleeps:
    """Records the backoff waits instead of waiting them (the delays are what is under test)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_link_is_the_incident_url_plus_the_id():
    assert incident_link("http://d/incidents", 7) == "http://d/incidents/7"
    assert incident_link("http://d/i?id=", 7) == "http://d/i?id=7"
    assert incident_link("http://d/{incident}/events", 7) == "http://d/7/events"
    assert incident_link(None, 7) is None


# --- webhook ------------------------------------------------------------------------------------------


async def test_webhook_posts_the_fields_and_a_one_line_text(http_server: RecordingServer):
    ch = channel(kind="webhook", url=http_server.url + "/hook", headers={"Authorization": "Bearer t"})
    outcome = await deliver(ch, message())

    assert outcome.delivered and outcome.attempts == 1 and outcome.error is None
    (req,) = http_server.requests
    assert (req.method, req.path, req.headers["Authorization"]) == ("POST", "/hook", "Bearer t")
    assert req.headers["Content-Type"] == "application/json"
    body = json.loads(req.body)
    assert {
        k: body[k] for k in ("host", "component", "incident", "kind", "status", "reason", "error", "link", "timestamp")
    } == {
        "host": "web1",
        "component": "app",
        "incident": 12,
        "kind": "initial",
        "status": "unhealthy",
        "reason": "retry 3/3 used in 10m; restore: no checkpoint",
        "error": "refused",
        "link": "http://dash.local/incidents/12",
        "timestamp": "2023-11-14T22:13:20Z",
    }
    assert body["text"] == (
        "healerd@web1: app needs attention (incident 12): unhealthy — retry 3/3 used in 10m; restore: no checkpoint;"
        " last error: refused; last action: retry step 1 attempt 3: exit 1: Traceback (most recent call last): |"
        " OSError: disk full http://dash.local/incidents/12"
    )
    assert "\n" not in body["text"]


async def test_resolved_text_says_so_without_the_old_error(http_server: RecordingServer):
    await deliver(
        channel(kind="webhook", url=http_server.url),
        message(kind="resolved", status="healthy", reason="verified healthy after retry"),
    )
    text = json.loads(http_server.requests[0].body)["text"]
    assert text.startswith("healerd@web1: app resolved (incident 12): healthy") and "last error" not in text
    assert "last action" not in text


async def test_failing_webhook_is_retried_with_backoff_then_failed(http_server: RecordingServer):
    http_server.statuses, http_server.body = [500], b"boom"
    sleeps = Sleeps()
    outcome = await deliver(
        channel(kind="webhook", url=http_server.url, retries=3), message(), backoff=FAST, sleep=sleeps
    )
    assert not outcome.delivered and outcome.attempts == 4 == len(http_server.requests)
    assert outcome.error == f"POST {http_server.url}: HTTP 500 boom"
    assert sleeps.delays == [0.01, 0.02, 0.04]


async def test_webhook_that_recovers_is_delivered_on_a_later_attempt(http_server: RecordingServer):
    http_server.statuses = [503, 502, 200]
    outcome = await deliver(
        channel(kind="webhook", url=http_server.url, retries=5), message(), backoff=FAST, sleep=Sleeps()
    )
    assert outcome.delivered and outcome.attempts == 3


async def test_webhook_attempts_are_bounded_by_the_channel_timeout(http_server: RecordingServer):
    http_server.hang = True
    outcome = await deliver(
        channel(kind="webhook", url=http_server.url, timeout="300ms", retries=1),
        message(),
        backoff=FAST,
        sleep=Sleeps(),
    )
    assert not outcome.delivered and outcome.attempts == 2 and "no answer within 0.3s" in outcome.error


async def test_webhook_refused_is_an_outcome():
    outcome = await deliver(channel(kind="webhook", url=f"http://127.0.0.1:{closed_port()}/", retries=0), message())
    assert not outcome.delivered and outcome.attempts == 1 and "ConnectError" in outcome.error


# --- run ----------------------------------------------------------------------------------------------

DUMP_ENV = "import json, os, sys; json.dump({k: v for k, v in os.environ.items() if k.startswith('HEALERD_')}, open(sys.argv[1], 'w'))"


async def test_run_channel_gets_the_fields_in_its_environment(tmp_path):
    out = tmp_path / "env.json"
    outcome = await deliver(channel(kind="run", run=[sys.executable, "-c", DUMP_ENV, str(out)]), message())
    assert outcome.delivered and outcome.attempts == 1
    env = json.loads(out.read_text())
    # what the channel inherited unchanged from this process (CI exports HEALERD_TEST_PG_URL) is not its doing
    env = {k: v for k, v in env.items() if os.environ.get(k) != v}
    assert env == {
        "HEALERD_COMPONENT": "app",
        "HEALERD_INCIDENT": "12",
        "HEALERD_KIND": "initial",
        "HEALERD_HOST": "web1",
        "HEALERD_LAST_ACTION": "retry step 1 attempt 3: exit 1: Traceback (most recent call last): | OSError: disk full",
        "HEALERD_STATUS": "unhealthy",
        "HEALERD_REASON": "retry 3/3 used in 10m; restore: no checkpoint",
        "HEALERD_ERROR": "refused",
        "HEALERD_LINK": "http://dash.local/incidents/12",
        "HEALERD_TIMESTAMP": "2023-11-14T22:13:20Z",
        "HEALERD_TEXT": message().text(),
    }


async def test_run_channel_nonzero_exit_is_retried_and_reported(tmp_path):
    code = "import sys; print('pager api down', file=sys.stderr); sys.exit(2)"
    outcome = await deliver(
        channel(kind="run", run=[sys.executable, "-c", code], retries=1), message(), backoff=FAST, sleep=Sleeps()
    )
    assert not outcome.delivered and outcome.attempts == 2
    assert outcome.error.endswith("exit 2: [stderr] pager api down")


async def test_run_channel_runs_in_the_given_directory(tmp_path):
    (tmp_path / "notify.py").write_text(f"import sys; open({str(tmp_path / 'ran')!r}, 'w').write('yes')")
    outcome = await deliver(channel(kind="run", run=[sys.executable, "notify.py"]), message(), cwd=tmp_path)
    assert outcome.delivered and (tmp_path / "ran").read_text() == "yes"


# --- email --------------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


async def smtp_server(inbox: Inbox, **options):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(inbox, hostname="test.local", **options), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_email_is_sent_over_smtp(tmp_path):
    inbox = Inbox()
    server, port = await smtp_server(inbox)
    try:
        ch = channel(
            kind="email",
            host="127.0.0.1",
            port=port,
            **{"from": "healerd@host"},
            to=["ops@example.org", "dev@example.org"],
        )
        outcome = await deliver(ch, message())
    finally:
        server.close()
        await server.wait_closed()
    assert outcome.delivered and outcome.attempts == 1, outcome
    (env,) = inbox.envelopes
    assert env.mail_from == "healerd@host" and env.rcpt_tos == ["ops@example.org", "dev@example.org"]
    content = env.content.decode()
    assert "Subject: [healerd] healerd@web1: app needs attention (incident 12)" in content
    assert "host: web1" in content and "last_action: retry step 1 attempt 3: exit 1" in content
    assert (
        "reason: retry 3/3 used in 10m; restore: no checkpoint" in content
        and "link: http://dash.local/incidents/12" in content
    )


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"healerd", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 235/535 reply


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("secret", "delivered"), [("s3cret\n", True), ("wrong\n", False)])
async def test_email_logs_in_with_the_password_from_its_file(tmp_path, secret, delivered):
    inbox = Inbox()
    server, port = await smtp_server(inbox, authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    password_file = tmp_path / "smtp-password"
    password_file.write_text(secret)
    try:
        ch = channel(
            kind="email",
            host="127.0.0.1",
            port=port,
            **{"from": "h@x"},
            to=["ops@x"],
            retries=0,
            username="healerd",
            password_file=str(password_file),
        )
        outcome = await deliver(ch, message())
    finally:
        server.close()
        await server.wait_closed()
    assert outcome.delivered is delivered and len(inbox.envelopes) == int(delivered)
    if not delivered:
        assert "SMTPAuthenticationError" in outcome.error


@pytest.fixture
def tls_cert(tmp_path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.mark.parametrize("trusted", [True, False])
async def test_starttls_verifies_the_servers_certificate(tmp_path, tls_cert, monkeypatch, trusted):
    cert, key = tls_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    else:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    inbox = Inbox()
    server, port = await smtp_server(inbox, tls_context=context, require_starttls=True)
    try:
        ch = channel(
            kind="email", host="127.0.0.1", port=port, **{"from": "h@x"}, to=["ops@x"], retries=0, starttls=True
        )
        outcome = await deliver(ch, message())
    finally:
        server.close()
        await server.wait_closed()
    assert outcome.delivered is trusted, outcome
    if not trusted:
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.error and inbox.envelopes == []


async def test_email_to_a_closed_port_fails():
    ch = channel(kind="email", host="127.0.0.1", port=closed_port(), **{"from": "h@x"}, to=["ops@x"], retries=0)
    outcome = await deliver(ch, message())
    assert not outcome.delivered and outcome.error.startswith("SMTP 127.0.0.1:") and "refused" in outcome.error.lower()


# --- log ----------------------------------------------------------------------------------------------


async def test_log_channel_writes_an_event_at_its_level():
    with capture_logs() as logs:
        outcome = await deliver(channel(kind="log", level="error"), message())
    assert outcome.delivered and outcome.attempts == 1
    (event,) = [e for e in logs if e["event"] == "escalation"]
    assert event["log_level"] == "error"
    assert (event["component"], event["incident"], event["kind"], event["error"]) == ("app", 12, "initial", "refused")
    assert event["text"] == message().text()


# --- the escalation record ------------------------------------------------------------------------------


@pytest.fixture
def incident(db_path) -> int:
    with open_db(db_path) as conn:
        conn.execute("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES ('app', 'http', 5, 1)")
        return conn.execute(
            "INSERT INTO incidents (component_id, opened_at, trigger) VALUES (1, 2, 'breaker open')"
        ).lastrowid


def escalations(db_path, incident_id: int) -> list[dict]:
    with open_db(db_path) as conn:
        return sql.for_incident(conn, incident_id)


async def _escalate(db_path, channel_name, ch, msg, **deliver_options):
    """The healer's sequence (service/healer/notify.py): the row pending before the first attempt, the
    delivery, the outcome; a once-per-incident message already delivered is not sent again."""
    with open_db(db_path) as conn:
        row = sql.open_escalation(conn, msg.incident, channel_name, msg.kind, 1.0)
    if row["status"] == "delivered":
        return row, None
    outcome = await deliver(ch, msg, **deliver_options)
    with open_db(db_path) as conn:
        sql.finish_escalation(
            conn, row["id"], delivered=outcome.delivered, attempts=outcome.attempts, error=outcome.error, now=2.0
        )
    return row, outcome


async def test_escalation_is_pending_while_it_is_sent_and_finished_after(
    db_path, incident, http_server: RecordingServer
):
    http_server.hang = True
    ch = channel(kind="webhook", url=http_server.url, timeout="10s", retries=0)
    task = asyncio.create_task(_escalate(db_path, "pager", ch, message(incident=incident)))
    await asyncio.to_thread(wait_until, lambda: http_server.requests, message="webhook never called")
    (row,) = escalations(db_path, incident)
    assert (row["status"], row["channel"], row["kind"], row["component_id"]) == ("pending", "pager", "initial", 1)
    http_server.release.set()  # the handler returns without an answer: the attempt fails
    _, outcome = await task
    (row,) = escalations(db_path, incident)
    assert not outcome.delivered and row["status"] == "failed" and row["attempts"] == 1 and row["error"]


async def test_initial_is_sent_once_per_incident_and_reminders_add_rows(
    db_path, incident, http_server: RecordingServer
):
    ch = channel(kind="webhook", url=http_server.url)
    first, sent = await _escalate(db_path, "pager", ch, message(incident=incident))
    again, not_sent = await _escalate(db_path, "pager", ch, message(incident=incident))
    _, reminder = await _escalate(db_path, "pager", ch, message(incident=incident, kind="reminder"))
    assert sent.delivered and not_sent is None and again["id"] == first["id"]
    assert reminder.delivered and len(http_server.requests) == 2
    rows = escalations(db_path, incident)
    assert [(r["kind"], r["status"], r["attempts"]) for r in rows] == [
        ("initial", "delivered", 1),
        ("reminder", "delivered", 1),
    ]
    assert rows[0]["delivered_at"] is not None


async def test_a_failed_initial_is_sent_again_and_its_attempts_add_up(db_path, incident, http_server: RecordingServer):
    http_server.statuses = [500, 500, 200]
    ch = channel(kind="webhook", url=http_server.url, retries=1)
    failed_row, failed = await _escalate(db_path, "pager", ch, message(incident=incident), backoff=FAST, sleep=Sleeps())
    retried_row, retried = await _escalate(
        db_path, "pager", ch, message(incident=incident), backoff=FAST, sleep=Sleeps()
    )
    assert not failed.delivered and retried.delivered and retried_row["id"] == failed_row["id"]
    (row,) = escalations(db_path, incident)
    assert (row["status"], row["attempts"], row["error"]) == ("delivered", 3, None)


def test_every_channel_kind_the_config_accepts_has_a_sender_and_no_other():
    from daemon.engine.notify import SENDERS, channel_kinds

    assert set(SENDERS) == channel_kinds() == {"webhook", "run", "email", "log", "apprise", "alertmanager"}
