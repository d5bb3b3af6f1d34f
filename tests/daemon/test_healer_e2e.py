"""The self-healer end to end: the real daemon (a subprocess) heals real local HTTP services.

Each test writes a config whose recovery actions are examples/services/httpservice.py's own start/stop
commands, breaks a service the way the issue lists (crash, persistent 500, corrupted config file, a
dependency down, a fault nothing can fix, kill -9 of healerd mid-recovery) and asserts on the database:
incidents, decisions, recovery events, escalations, fallback state and the report views. Timings are
short (checks every 200 ms, breakers open for 1 s) and every wait is a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import wait_until
from services_kit import PY, ROUTE_TO, Gate, Service, WebhookReceiver

from daemon.engine.ladder import LadderState


def q(value) -> str:
    """A TOML value (JSON strings and arrays of strings are valid TOML)."""
    return json.dumps(value)


FAST_BREAKER = """
[component.breaker]
consecutive_failures = {failures}
open_for = "1s"
max_open_for = "1s"
half_open_successes = 1
"""


def component(name: str, *, check: str, steps: str = "", failures: int = 2, extra: str = "") -> str:
    return (f'[[component]]\nname = "{name}"\n{extra}\n[component.check]\n{check}\n'
            + FAST_BREAKER.format(failures=failures) + steps)


def http_check(service: Service, every: str = "200ms") -> str:
    return f'kind = "http"\nurl = "{service.url}"\nevery = "{every}"\ntimeout = "150ms"'


def retry(argv: list[str], *, attempts: int = 1, verify: str = "5s", extra: str = "") -> str:
    return (f'[[component.recovery]]\nstrategy = "retry"\nattempts = {attempts}\nwithin = "10m"\n'
            f'verify_within = "{verify}"\naction = {{ run = {q(argv)}, timeout = "20s" }}\n'
            f'backoff = {{ initial = "100ms", max = "200ms", jitter = "none" }}\n{extra}')


def escalate(*channels: str, repeat: str = "1h") -> str:
    return f'[[component.recovery]]\nstrategy = "escalate"\nnotify = {q(list(channels))}\nrepeat_every = "{repeat}"\n'


@dataclass
class Env:
    """A config directory, the services it watches and the daemons started on it; all killed at the end."""

    root: Path
    config: object
    start_daemon: object
    services: list[Service] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    daemons: list = field(default_factory=list)

    def service(self, name: str) -> Service:
        svc = Service(name, self.root / "run")
        svc.directory.mkdir(exist_ok=True)
        self.services.append(svc)
        return svc

    def gate(self, name: str) -> Gate:
        gate = Gate(self.root / "run", name)
        self.gates.append(gate)
        return gate

    def write(self, policies: str, settings: str = "") -> None:
        self.config.settings('[daemon]\ncooldown = "1s"\nfast_every = "100ms"\nshutdown_grace = "2s"\n' + settings)
        self.config.policy("healing.toml", policies)

    def start(self):
        daemon = self.start_daemon(self.config, self.root.parent / "healerd.db")
        self.daemons.append(daemon)
        return daemon

    def close(self) -> None:
        for daemon in self.daemons:  # first: nothing may restart a service after it was killed
            if daemon.proc.poll() is None:
                os.killpg(daemon.proc.pid, signal.SIGKILL)
                daemon.proc.wait(10)
        for gate in self.gates:
            gate.kill_all()
        for svc in self.services:
            svc.kill()


@pytest.fixture
def env(config_dir, start_daemon) -> Iterator[Env]:
    e = Env(config_dir.root, config_dir, start_daemon)
    (config_dir.root / "run").mkdir()
    yield e
    e.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


# --- reading the database ------------------------------------------------------------------------------


def events(d, name: str) -> list[dict]:
    rows = d.query(
        "SELECT e.strategy, e.step, e.attempt, e.status, e.action, e.candidate, e.exit_code, e.verified_at, "
        "e.output, e.incident_id FROM recovery_events e JOIN components c ON c.id = e.component_id "
        "WHERE c.name = ? ORDER BY e.id", (name,))
    keys = ("strategy", "step", "attempt", "status", "action", "candidate", "exit_code", "verified_at", "output", "incident")
    return [dict(zip(keys, r)) for r in rows]


def incidents(d, name: str) -> list[dict]:
    rows = d.query(
        "SELECT i.id, i.status, i.waiting_on, i.acked_at, i.opened_at, i.closed_at FROM incidents i "
        "JOIN components c ON c.id = i.component_id WHERE c.name = ? ORDER BY i.id", (name,))
    return [dict(zip(("id", "status", "waiting_on", "acked_at", "opened_at", "closed_at"), r)) for r in rows]


def decisions(d, name: str) -> list[tuple[str, str]]:
    return d.query("SELECT d.kind, d.reason FROM decisions d JOIN components c ON c.id = d.component_id "
                   "WHERE c.name = ? ORDER BY d.id", (name,))


def ladder(d, name: str) -> LadderState:
    (text,) = d.query("SELECT l.ladder FROM ladder_state l JOIN components c ON c.id = l.component_id "
                      "WHERE c.name = ?", (name,))[0]
    return LadderState.from_json(text)


def closed_incident(d, name: str):
    return lambda: any(i["status"] == "resolved" for i in incidents(d, name))


def explain(d, name: str) -> str:
    from click.testing import CliRunner

    from daemon.cli.main import cli

    return CliRunner().invoke(cli, ["explain", name, "--db", str(d.db)]).output


# --- scenarios -----------------------------------------------------------------------------------------


def test_crash_is_restarted_verified_and_the_incident_closes_with_its_mttr_recorded(env):
    app = env.service("app")
    app.start()
    env.write(component("app", check=http_check(app), steps=retry(app.argv("start"))))
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE status = 'healthy'")[0][0] >= 2)
    first_pid = app.pid

    app.crash()

    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    (event,) = events(d, "app")
    assert (event["strategy"], event["status"], event["attempt"], event["exit_code"]) == ("retry", "succeeded", 1, 0)
    assert event["verified_at"] is not None and "verified" in event["output"]
    assert app.pid is not None and app.pid != first_pid
    kinds = [k for k, _ in decisions(d, "app")]
    assert kinds[:2] == ["open_incident", "run_step"] and "close_incident" in kinds
    (mttr,) = d.query("SELECT recoveries, mean_s FROM recovery_mttr WHERE component = 'app'")
    assert mttr[0] == 1 and mttr[1] > 0
    (outcome,) = d.query("SELECT strategy, attempts, succeeded, median_to_verified_s FROM recovery_ladder_outcomes "
                         "WHERE component = 'app'")
    assert outcome[:3] == ("retry", 1, 1) and outcome[3] > 0
    state = ladder(d, "app")
    assert state.incident is None and state.in_progress is None and state.last_success_at is not None
