"""The self-healer end to end: the real daemon (a subprocess) heals real local HTTP services.

Each test writes a config whose recovery actions are examples/services/httpservice.py's own start/stop
commands, breaks a service the way the issue lists (crash, persistent 500, corrupted config file, a
dependency down, a fault nothing can fix, kill -9 of healerd mid-recovery) and asserts on the database:
incidents, decisions, recovery events, escalations, fallback state and the report views. Timings are
short (checks every 200 ms, breakers open for 1 s) and every wait is a condition with a deadline.
"""

from __future__ import annotations

import itertools
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
    return (
        f'[[component]]\nname = "{name}"\n{extra}\n[component.check]\n{check}\n'
        + FAST_BREAKER.format(failures=failures)
        + steps
    )


def http_check(service: Service, every: str = "200ms") -> str:
    return f'kind = "http"\nurl = "{service.url}"\nevery = "{every}"\ntimeout = "150ms"'


def retry(argv: list[str], *, attempts: int = 1, verify: str = "5s", extra: str = "") -> str:
    return (
        f'[[component.recovery]]\nstrategy = "retry"\nattempts = {attempts}\nwithin = "10m"\n'
        f'verify_within = "{verify}"\naction = {{ run = {q(argv)}, timeout = "20s" }}\n'
        f'backoff = {{ initial = "100ms", max = "200ms", jitter = "none" }}\n{extra}'
    )


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
        "WHERE c.name = ? ORDER BY e.id",
        (name,),
    )
    keys = (
        "strategy",
        "step",
        "attempt",
        "status",
        "action",
        "candidate",
        "exit_code",
        "verified_at",
        "output",
        "incident",
    )
    return [dict(zip(keys, r)) for r in rows]


def incidents(d, name: str) -> list[dict]:
    rows = d.query(
        "SELECT i.id, i.status, i.waiting_on, i.acked_at, i.opened_at, i.closed_at FROM incidents i "
        "JOIN components c ON c.id = i.component_id WHERE c.name = ? ORDER BY i.id",
        (name,),
    )
    return [dict(zip(("id", "status", "waiting_on", "acked_at", "opened_at", "closed_at"), r)) for r in rows]


def decisions(d, name: str) -> list[tuple[str, str]]:
    return d.query(
        "SELECT d.kind, d.reason FROM decisions d JOIN components c ON c.id = d.component_id "
        "WHERE c.name = ? ORDER BY d.id",
        (name,),
    )


def ladder(d, name: str) -> LadderState:
    (text,) = d.query(
        "SELECT l.ladder FROM ladder_state l JOIN components c ON c.id = l.component_id WHERE c.name = ?", (name,)
    )[0]
    return LadderState.from_json(text)


def assert_decisions_recorded_only_on_change(d, name: str) -> None:
    """Consecutive decision rows of a component differ (beyond elapsed times): no row per pass."""
    from daemon.service.healer.loop import _SPAN

    rows = d.query(
        "SELECT d.kind, d.step, d.incident_id, d.reason, round(coalesce(d.until, 0)) FROM decisions d "
        "JOIN components c ON c.id = d.component_id WHERE c.name = ? ORDER BY d.id",
        (name,),
    )
    keys = [(kind, step, incident, _SPAN.sub("…", reason), until) for kind, step, incident, reason, until in rows]
    repeated = [a for a, b in itertools.pairwise(keys) if a == b]
    assert not repeated, repeated


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
    (outcome,) = d.query(
        "SELECT strategy, attempts, succeeded, median_to_verified_s FROM recovery_ladder_outcomes "
        "WHERE component = 'app'"
    )
    assert outcome[:3] == ("retry", 1, 1) and outcome[3] > 0
    state = ladder(d, "app")
    assert state.incident is None and state.in_progress is None and state.last_success_at is not None
    assert_decisions_recorded_only_on_change(d, "app")


def fallback_step(route: Path, candidates: list[str], *, failback_after: str = "1s") -> str:
    activate = [PY, str(ROUTE_TO), "--state", str(route), "{candidate}"]
    deactivate = [PY, str(ROUTE_TO), "--state", str(route), "app"]
    return (
        f'[[component.recovery]]\nstrategy = "fallback"\ncandidates = {q(candidates)}\nverify_within = "5s"\n'
        f'activate = {{ run = {q(activate)}, timeout = "10s" }}\n'
        f'deactivate = {{ run = {q(deactivate)}, timeout = "10s" }}\nfailback_after = "{failback_after}"\n'
    )


def healthy(d, *names: str):
    def check() -> bool:
        rows = dict(d.query("SELECT component, last_status FROM current_system_status"))
        return all(rows.get(n) == "healthy" for n in names)

    return check


def test_persistent_failure_spends_the_retry_budget_falls_back_to_the_standby_then_fails_back(env):
    app, standby = env.service("app"), env.service("app-standby")
    app.start()
    standby.start()
    route = env.root / "run" / "route"
    env.write(
        component("app-standby", check=http_check(standby))
        + component(
            "app",
            check=http_check(app),
            steps=retry(app.argv("restart"), verify="1s") + fallback_step(route, ["app-standby"]),
        )
    )
    d = env.start()
    wait_until(healthy(d, "app", "app-standby"), timeout=15)

    app.set_mode("fail")  # persistent: the mode file survives the restart the retry does

    def activated():
        return [e for e in events(d, "app") if e["action"] == "activate" and e["status"] == "succeeded"]

    wait_until(activated, timeout=30, message=lambda: explain(d, "app"))
    assert route.read_text().strip() == "app-standby"
    assert d.query(
        "SELECT f.active_candidate FROM fallback_state f JOIN components c ON c.id = f.component_id "
        "WHERE c.name = 'app'"
    ) == [("app-standby",)]
    assert ladder(d, "app").fallback.candidate == "app-standby"

    app.set_mode("healthy")  # fixed by hand: the primary comes back, then healerd switches back to it

    def failed_back():
        return [e for e in events(d, "app") if e["action"] == "deactivate" and e["status"] == "succeeded"]

    wait_until(failed_back, timeout=30, message=lambda: explain(d, "app"))
    got = [(e["strategy"], e["action"], e["status"], e["candidate"]) for e in events(d, "app")]
    assert got == [
        ("retry", "run", "failed", None),
        ("fallback", "activate", "succeeded", "app-standby"),
        ("fallback", "deactivate", "succeeded", "app-standby"),
    ]
    assert "not verified" in events(d, "app")[0]["output"]
    assert route.read_text().strip() == "app"
    assert d.query(
        "SELECT f.active_candidate FROM fallback_state f JOIN components c ON c.id = f.component_id "
        "WHERE c.name = 'app'"
    ) == [(None,)]
    assert [i["status"] for i in incidents(d, "app")] == ["resolved"]
    assert ladder(d, "app").fallback is None
    kinds = [k for k, _ in decisions(d, "app")]
    assert kinds.index("failback") > kinds.index("close_incident")
    strategies = {r[0] for r in d.query("SELECT strategy FROM recovery_ladder_outcomes WHERE component = 'app'")}
    assert strategies == {"retry", "fallback", "failback"}


def test_corrupted_config_file_is_restored_from_the_checkpoint_taken_while_healthy(env):
    app = env.service("app")
    app.start()
    restore = (
        f'[[component.recovery]]\nstrategy = "restore"\ncheckpoint = "app-config"\nverify_within = "5s"\n'
        f'then = {{ run = {q(app.argv("restart"))}, timeout = "20s" }}\n'
    )
    checkpoint = f'[[checkpoint]]\nname = "app-config"\npaths = {q([str(app.mode_file)])}\nevery = "1h"\nkeep = 3\n'
    env.write(
        component("app", check=http_check(app), steps=retry(app.argv("restart"), verify="1s") + restore) + checkpoint
    )
    d = env.start()
    wait_until(
        lambda: d.query("SELECT count(*) FROM checkpoints WHERE name = 'app-config' AND status = 'verified'")[0][0],
        timeout=15,
        message="no checkpoint taken while app was healthy",
    )

    app.set_mode("fail")  # the service's config file now holds a value that breaks it; a restart keeps it

    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    got = [(e["strategy"], e["status"]) for e in events(d, "app")]
    assert got == [("retry", "failed"), ("restore", "succeeded")]
    (cp_id,) = d.query("SELECT id FROM checkpoints WHERE name = 'app-config' AND status = 'verified'")[0]
    assert d.query("SELECT checkpoint_id, action FROM recovery_events WHERE strategy = 'restore'") == [
        (cp_id, "restore")
    ]
    assert app.mode_file.read_text().strip() == "healthy"
    assert d.query("SELECT count(*) FROM checkpoints WHERE name = 'app-config'")[0][0] == 1  # none taken while sick


def test_nothing_works_one_escalation_reminders_until_acked_and_a_resolved_message(env, webhook):
    app = env.service("app")
    app.start()
    env.write(
        component(
            "app", check=http_check(app), steps=retry(app.argv("start"), verify="1s") + escalate("hook", repeat="1s")
        ),
        settings=f'[notify.hook]\nkind = "webhook"\nurl = "{webhook.url}"\nretries = 1\ntimeout = "2s"\n',
    )
    d = env.start()
    wait_until(healthy(d, "app"), timeout=15)

    app.set_mode("crash")  # it dies now and at every start: the retry cannot fix it
    app.crash()

    wait_until(lambda: webhook.of_kind("reminder"), timeout=30, message=lambda: explain(d, "app"))
    (initial,) = webhook.of_kind("initial")
    (incident,) = incidents(d, "app")
    assert initial["component"] == "app" and initial["incident"] == incident["id"]
    assert "app" in initial["text"] and initial["error"]
    (retry_event,) = events(d, "app")
    assert retry_event["status"] == "failed" and retry_event["exit_code"] == 1

    from click.testing import CliRunner

    from daemon.cli.main import cli

    result = CliRunner().invoke(cli, ["ack", "app", "--db", str(d.db)])
    assert result.exit_code == 0 and "acknowledged" in result.output, result.output
    (incident,) = incidents(d, "app")
    acked = incident["acked_at"]
    assert acked is not None and ladder(d, "app").incident.acked_at is not None
    # two reminder periods go by (seen as check results the daemon wrote): no reminder after the ack
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE ts > ?", (acked + 2.5,))[0][0], timeout=15)
    assert d.query("SELECT count(*) FROM escalations WHERE kind = 'reminder' AND created_at > ?", (acked,)) == [(0,)]

    app.set_mode("healthy")  # fixed by hand
    app.start()

    wait_until(lambda: webhook.of_kind("resolved"), timeout=30, message=lambda: explain(d, "app"))
    assert len(webhook.of_kind("initial")) == 1 and len(webhook.of_kind("resolved")) == 1
    # the receiver may see the message a moment before the daemon records the delivery
    wait_until(lambda: d.query("SELECT count(*) FROM escalations WHERE status <> 'delivered'") == [(0,)])
    rows = d.query("SELECT kind FROM escalations ORDER BY id")
    assert rows[0] == ("initial",) and rows[-1] == ("resolved",) and ("reminder",) in rows
    assert [i["status"] for i in incidents(d, "app")] == ["resolved"]
    assert "escalation" in explain(d, "app")
    assert_decisions_recorded_only_on_change(d, "app")


def test_dependency_down_only_the_dependency_is_healed_and_the_dependent_waits(env):
    db = env.service("db")
    db.start()
    gate = env.gate("db-start")
    marker = env.root / "run" / "app-was-restarted"
    app_check = f'kind = "tcp"\nport = {db.port}\nevery = "200ms"\ntimeout = "150ms"'  # app is up only with its db
    app_action = [PY, "-c", "import sys; open(sys.argv[1], 'a').write('x')", str(marker)]
    env.write(
        component("db", check=http_check(db), failures=1, steps=retry(gate.argv(db.argv("start"))))
        + component(
            "app", check=app_check, failures=3, extra='depends_on = ["db"]', steps=retry(app_action) + escalate("ops")
        ),
        settings='[notify.ops]\nkind = "log"\n',
    )
    d = env.start()
    wait_until(healthy(d, "app", "db"), timeout=15)

    db.crash()

    def app_waits():
        waiting = [i for i in incidents(d, "app") if i["waiting_on"] == "db"]
        started = [e for e in events(d, "db") if e["status"] == "started"]
        return waiting and started

    wait_until(app_waits, timeout=30, message=lambda: explain(d, "app") + "\n" + explain(d, "db"))
    assert any("waiting on db" in reason for _, reason in decisions(d, "app"))

    gate.open()  # the db's restart may now go ahead

    wait_until(
        lambda: closed_incident(d, "db")() and closed_incident(d, "app")(),
        timeout=30,
        message=lambda: explain(d, "app") + "\n" + explain(d, "db"),
    )
    assert [(e["strategy"], e["status"]) for e in events(d, "db")] == [("retry", "succeeded")]
    assert events(d, "app") == []
    assert d.query("SELECT count(*) FROM escalations") == [(0,)]
    assert not marker.exists()
    assert "waited on: db" in explain(d, "app")


def test_kill_9_mid_recovery_leaves_the_step_interrupted_and_the_budget_counted_once(env):
    app = env.service("app")
    app.start()
    gate = env.gate("app-start")
    env.write(
        component(
            "app", check=http_check(app), steps=retry(gate.argv(app.argv("start")), attempts=2) + escalate("ops")
        ),
        settings='[notify.ops]\nkind = "log"\n',
    )
    d = env.start()
    wait_until(healthy(d, "app"), timeout=15)

    app.crash()
    wait_until(
        lambda: [e for e in events(d, "app") if e["status"] == "started"] and gate.pids,
        timeout=30,
        message=lambda: explain(d, "app"),
    )
    os.kill(d.pid, signal.SIGKILL)  # mid-recovery: the action blocks at the gate
    d.proc.wait(10)
    gate.kill_all()  # the orphaned action (own session) must not start the service behind our back
    assert [e["status"] for e in events(d, "app")] == ["started"]

    d2 = env.start()
    wait_until(lambda: len(gate.pids) == 2, timeout=30, message=lambda: explain(d2, "app"))
    first = events(d2, "app")[0]
    assert (first["status"], first["attempt"]) == ("interrupted", 1)
    gate.open()

    wait_until(closed_incident(d2, "app"), timeout=30, message=lambda: explain(d2, "app"))
    got = [(e["strategy"], e["attempt"], e["status"]) for e in events(d2, "app")]
    assert got == [("retry", 1, "interrupted"), ("retry", 2, "succeeded")]
    assert len({e["incident"] for e in events(d2, "app")}) == 1  # the same incident went on
    assert len(ladder(d2, "app").step(0, "retry").attempts) == 2  # counted once each, not three times
    assert d2.query("SELECT count(*) FROM escalations") == [(0,)]


def test_sigterm_mid_recovery_kills_the_action_group_and_records_the_step_interrupted(env):
    app = env.service("app")
    app.start()
    gate = env.gate("app-start")
    env.write(component("app", check=http_check(app), steps=retry(gate.argv(app.argv("start")))))
    d = env.start()
    wait_until(healthy(d, "app"), timeout=15)

    app.crash()
    wait_until(lambda: gate.pids, timeout=30, message=lambda: explain(d, "app"))
    (blocked,) = gate.pids

    assert d.stop() == 0
    (event,) = events(d, "app")
    assert event["status"] == "interrupted" and "healerd stopped" in event["output"]
    assert not Path(f"/proc/{blocked}").exists() or "Z" in Path(f"/proc/{blocked}/stat").read_text().split()[2]
    assert ladder(d, "app").in_progress is None


def test_operator_heal_runs_the_next_step_on_a_healthy_component_and_records_who_asked(env):
    app = env.service("app")
    app.start()
    env.write(component("app", check=http_check(app), steps=retry(app.argv("restart"))))
    d = env.start()
    wait_until(healthy(d, "app"), timeout=15)
    first_pid = app.pid

    from click.testing import CliRunner

    from daemon.cli.main import cli

    result = CliRunner().invoke(cli, ["heal", "app", "--db", str(d.db)])
    assert result.exit_code == 0 and "recovery requested" in result.output, result.output

    wait_until(
        lambda: [e for e in events(d, "app") if e["status"] == "succeeded"],
        timeout=30,
        message=lambda: explain(d, "app"),
    )
    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    (incident,) = d.query("SELECT trigger FROM incidents")
    assert incident == ("operator",)
    assert app.pid != first_pid
    assert d.query("SELECT command, status FROM operator_commands") == [("heal", "applied")]
    assert ladder(d, "app").operator_requested_at is None


def test_an_escalation_cut_short_by_kill_9_is_sent_again_after_the_restart(env, webhook):
    app = env.service("app")
    app.start()
    env.write(
        component("app", check=http_check(app), steps=escalate("hook")),
        settings=f'[notify.hook]\nkind = "webhook"\nurl = "{webhook.url}"\nretries = 0\ntimeout = "10s"\n',
    )
    d = env.start()
    wait_until(healthy(d, "app"), timeout=15)
    webhook.answering.clear()  # the receiver takes the message but does not answer yet

    app.set_mode("crash")
    app.crash()
    wait_until(lambda: webhook.of_kind("initial"), timeout=30, message=lambda: explain(d, "app"))
    assert d.query("SELECT kind, status FROM escalations") == [("initial", "pending")]  # intent, before the answer
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait(10)

    webhook.answering.set()
    d2 = env.start()
    wait_until(
        lambda: d2.query("SELECT status FROM escalations") == [("delivered",)],
        timeout=30,
        message=lambda: explain(d2, "app"),
    )
    assert len(webhook.of_kind("initial")) == 2  # at least once: the receiver saw it twice, one row says so
    assert d2.query("SELECT count(*) FROM escalations WHERE kind = 'initial'") == [(1,)]
    assert ladder(d2, "app").incident.escalation is not None  # the restarted daemon does not escalate anew
