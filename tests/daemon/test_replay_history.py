"""`healerd replay` on a history recorded by a real daemon run.

One daemon run (module fixture) records two incidents of a real local HTTP service: a crash healed by
the first retry, then a fault no restart fixes (mode `fail`, kept across restarts) that spends the
retry budget and escalates, until the test clears the fault. Replaying the policy that produced the
history must reproduce its decisions (the proof that the replay runs the daemon's own logic); a
stricter policy must act less and escalate earlier; outcomes the history cannot tell are labelled.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import wait_until
from services_kit import Service

from daemon.cli.main import cli
from daemon.engine.replay_report import NOTABLE

pytestmark = pytest.mark.slow

EVERY = 1.0  # the check interval: replayed times must be within one of it


def policy(*, attempts: int = 3, failures: int = 2, prefix: str = "", argv: list[str]) -> str:
    return (
        textwrap.dedent(f"""
        [[component]]
        name = "app"
        [component.check]
        kind = "http"
        url = "{{url}}"
        every = "1s"
        timeout = "500ms"
        [component.breaker]
        consecutive_failures = {failures}
        open_for = "1s"
        max_open_for = "1s"
        half_open_successes = 1
        """).replace("{url}", "URL")
        + prefix
        + textwrap.dedent(f"""
        [[component.recovery]]
        strategy = "retry"
        attempts = {attempts}
        within = "10m"
        verify_within = "1500ms"
        action = {{ run = {json.dumps(argv)}, timeout = "20s" }}
        backoff = {{ initial = "100ms", max = "200ms", jitter = "none" }}
        [[component.recovery]]
        strategy = "escalate"
        notify = ["ops"]
        repeat_every = "1h"
        """)
    )


SETTINGS = '[daemon]\ncooldown = "0s"\nfast_every = "200ms"\nshutdown_grace = "2s"\n[notify.ops]\nkind = "log"\n'


def write_config(root: Path, service: Service, text: str) -> Path:
    (root / "policies.d").mkdir(parents=True, exist_ok=True)
    for d in (root, root / "policies.d"):
        os.chmod(d, 0o755)
    for path, body in (
        (root / "healerd.toml", SETTINGS),
        (root / "policies.d" / "app.toml", text.replace("URL", service.url)),
    ):
        path.write_text(body)
        os.chmod(path, 0o644)
    return root


def query(db: Path, sql: str, params=()) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def start_healerd(config: Path, db: Path, log: Path, run: Path, *extra: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daemon",
                "run",
                "--config",
                str(config),
                "--db",
                str(db),
                "--log-format",
                "json",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "RUNTIME_DIRECTORY": str(run)},
        )


def stop_healerd(daemon: subprocess.Popen) -> None:
    """SIGTERM, then the whole process group (its own session) if it does not stop in time."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)


def counter(db: Path):
    def count(sql: str) -> int:
        rows = query(db, sql)
        return rows[0][0] if rows else 0

    return count


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    run = tmp / "run"
    run.mkdir()
    app = Service("app", run)
    live = write_config(tmp / "live", app, policy(argv=app.argv("start")))
    db = tmp / "healerd.db"
    log = tmp / "daemon.log"
    app.start()
    daemon = start_healerd(live, db, log, run)
    count = counter(db)
    try:
        tail = lambda: log.read_text()[-3000:]  # noqa: E731
        wait_until(lambda: count("SELECT count(*) FROM check_results WHERE status = 'healthy'") >= 2, 30, message=tail)
        app.crash()  # incident 1: the first restart heals it
        wait_until(lambda: count("SELECT count(*) FROM incidents WHERE status = 'resolved'") >= 1, 40, message=tail)
        wait_until(
            lambda: (
                count(
                    "SELECT count(*) FROM check_results WHERE status = 'healthy' AND ts > "
                    "(SELECT max(closed_at) FROM incidents)"
                )
                >= 2
            ),
            30,
            message=tail,
        )
        app.set_mode("fail")  # incident 2: restarts cannot fix it; the budget is spent, then escalation
        wait_until(lambda: count("SELECT count(*) FROM escalations WHERE kind = 'initial'") >= 1, 60, message=tail)
        app.set_mode("healthy")
        wait_until(lambda: count("SELECT count(*) FROM escalations WHERE kind = 'resolved'") >= 1, 40, message=tail)
        wait_until(
            lambda: (
                count("SELECT count(*) FROM check_results WHERE ts > (SELECT max(created_at) FROM escalations)") >= 2
            ),
            30,
            message=tail,
        )
    finally:
        stop_healerd(daemon)
        app.kill()
    return {"db": db, "live": live, "tmp": tmp, "app": app}


def replay(history, config: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli, ["replay", "--config", str(config), "--db", str(history["db"]), "--format", "json", *extra]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["components"]["app"]


def notable(decisions: list[dict]) -> list[dict]:
    """The decisions that change state (incidents, actions, escalations). Waits are explanations: which of
    them get a row depends on sub-interval races between the daemon's breaker tick and its passes."""
    return [d for d in decisions if d["kind"] in NOTABLE]


def test_replaying_the_policy_that_produced_a_history_reproduces_its_recorded_decisions(history):
    app = replay(history, history["live"])
    recorded = notable(app["recorded"]["decisions"])
    replayed = notable(app["replayed"]["decisions"])
    assert [(d["kind"], d["step"], d["incident"]) for d in replayed] == [
        (d["kind"], d["step"], d["incident"]) for d in recorded
    ], (
        "\n".join(f"{d['ts']:.3f} {d['kind']} {d['step']} {d['reason']}" for d in app["replayed"]["decisions"])
        + "\n---\n"
        + "\n".join(f"{d['ts']:.3f} {d['kind']} {d['step']} {d['reason']}" for d in app["recorded"]["decisions"])
    )
    late = [
        (r["kind"], round(r["ts"] - s["ts"], 3)) for s, r in zip(replayed, recorded) if abs(r["ts"] - s["ts"]) > EVERY
    ]
    assert not late, late
    assert [d["reason"] for d in replayed] == [d["reason"] for d in recorded]
    kinds = [d["kind"] for d in recorded]
    # incident 1: one retry heals; incident 2: the two retries left in the 10m budget fail, then escalation
    assert kinds.count("run_step") == 3 and kinds.count("escalate") == 2  # initial + resolved
    assert app["difference"] == "same as recorded"
    assert app["replayed"]["estimated_outcomes"] == 0
    actions = [a for inc in app["replayed"]["incident_detail"] for a in inc["actions"]]
    assert [a["outcome"] for a in actions] == ["healed", "failed", "failed"]
    assert all(a["basis"] == "recorded" for a in actions)


def test_a_stricter_policy_shows_fewer_actions_and_an_earlier_escalation(history):
    strict = write_config(
        history["tmp"] / "strict", history["app"], policy(attempts=1, argv=history["app"].argv("start"))
    )
    app = replay(history, strict)
    new, old = app["replayed"], app["recorded"]
    # one retry in 10m: it heals incident 1; incident 2 escalates at once, its budget already spent
    assert new["actions"]["retry"] == 1 and old["actions"]["retry"] == 3
    assert new["first_escalation"] < old["first_escalation"] - 1.0
    assert app["difference"].startswith("new policy: 2 fewer retry actions, first escalation ")
    assert " earlier" in app["difference"]
    table = CliRunner().invoke(cli, ["replay", "--config", str(strict), "--db", str(history["db"])]).output
    assert "app: new policy: 2 fewer retry actions" in table


def test_outcomes_the_history_cannot_tell_are_estimated_and_labelled_with_the_rule(history):
    # the retry is now the ladder's second step (the first only applies to timeouts): another action,
    # never recorded, so its outcome cannot be known
    prefix = (
        '[[component.recovery]]\nstrategy = "retry"\nwhen = { errors = ["timeout"] }\naction = { run = ["true"] }\n'
    )
    other = write_config(
        history["tmp"] / "other", history["app"], policy(prefix=prefix, argv=history["app"].argv("start"))
    )
    app = replay(history, other)
    actions = [a for inc in app["replayed"]["incident_detail"] for a in inc["actions"]]
    assert actions and all(a["basis"] == "estimated" for a in actions)
    # incident 1 (refused: 1/1 recorded restarts healed) heals; incident 2 (bad_status: 0/2) does not
    assert (
        actions[0]["outcome"] == "healed"
        and "1/1 recorded retry on app (error refused) succeeded" in actions[0]["rule"]
    )
    assert actions[1]["outcome"] == "failed" and "0/2 recorded retry on app (error bad_status)" in actions[1]["rule"]
    assert app["replayed"]["estimated_outcomes"] == len(actions)
    assert app["difference"].endswith(f"({len(actions)} outcome(s) estimated)")
    table = CliRunner().invoke(cli, ["replay", "--config", str(other), "--db", str(history["db"])]).output
    assert "[ESTIMATED: 1/1 recorded retry on app (error refused) succeeded]" in table
    assert "estimates: estimated from recorded outcomes" in table

    assumed = replay(history, other, "--assume", "healed", "--component", "app")
    labels = {a["basis"] for inc in assumed["replayed"]["incident_detail"] for a in inc["actions"]}
    assert labels == {"assumed"}
    assert assumed["replayed"]["actions"]["retry"] < app["replayed"]["actions"]["retry"]


def test_folding_quiet_results_leaves_the_replay_of_a_recorded_history_unchanged(history):
    from daemon.cli.replay import load_policies, replay_db
    from daemon.store import replay_sql
    from daemon.store.sqlite import connect

    strict = write_config(
        history["tmp"] / "fold-strict",
        history["app"],
        policy(attempts=1, failures=1, argv=history["app"].argv("start")),
    )
    conn = connect(history["db"], readonly=True)
    try:
        first, last = replay_sql.bounds(conn)
        for config_dir in (history["live"], strict):
            config = load_policies(config_dir)
            folded = replay_db(config, conn, first, last + 1e-3)
            fed = replay_db(config, conn, first, last + 1e-3, fold=False)
            assert folded["results"] == fed["results"] > 0
            assert folded == fed
    finally:
        conn.close()
