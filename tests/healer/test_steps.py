"""StepRunner on real processes and real HTTP servers: what a step's outcome depends on.

Verification is injected (the daemon's is tested end to end in tests/daemon/test_healer_e2e.py), so
each test states exactly what the component's own check said after the action.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from httpservers import HttpServer, Route

from daemon.clock import SYSTEM_CLOCK
from daemon.config.models import HealerdConfig
from daemon.engine.decision import Failback, RunStep
from daemon.engine.ladder import Outcome
from daemon.service.healer.steps import StepRunner, Verification
from daemon.types import CheckResult, Status


def write_argv(path: Path, text: str = "{candidate}") -> list[str]:
    return [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')", str(path), text]


def config(tmp_path: Path, steps: list[dict], components: dict | None = None) -> HealerdConfig:
    comps = {"app": {"name": "app", "check": {"kind": "tcp", "port": 9}, "recovery": steps}}
    comps.update(components or {})
    return HealerdConfig.model_validate({"components": comps, "directory": str(tmp_path)})


class Checks:
    """The injected verification: answers per component, records who was asked."""

    def __init__(self, passing: set[str]) -> None:
        self.passing = passing
        self.asked: list[str] = []

    async def __call__(self, name: str, since: float, within: float) -> Verification:
        self.asked.append(name)
        if name in self.passing:
            return Verification(since + 0.25, CheckResult(name, Status.HEALTHY, 1.0, "ok", None, since + 0.25))
        return Verification(None, CheckResult(name, Status.UNHEALTHY, 1.0, "HTTP 500", "bad_status", since + 0.2))


async def no_db(fn):  # restore needs the database; these tests never reach it
    raise AssertionError("no database in this test")


def runner(conf: HealerdConfig, checks: Checks, db=no_db) -> StepRunner:
    return StepRunner(lambda: conf, SYSTEM_CLOCK, checks, db)


async def test_retry_that_exits_0_fails_unless_the_check_passes_afterwards(tmp_path):
    out = tmp_path / "ran"
    conf = config(tmp_path, [{"strategy": "retry", "action": {"run": write_argv(out, "{component}")}}])
    decision = RunStep(0, "retry", None, "r", 7)
    step = conf.components["app"].recovery[0]

    failed = await runner(conf, Checks(set())).run("app", step, decision)
    assert failed.outcome is Outcome.FAILED and failed.exit_code == 0
    assert "exit 0; not verified within 30s (latest check unhealthy: HTTP 500)" in failed.message

    passed = await runner(conf, Checks({"app"})).run("app", step, decision)
    assert passed.outcome is Outcome.SUCCEEDED and passed.verified_at is not None
    assert out.read_text().split() == ["app", "app"]


async def test_a_failing_action_is_not_verified_at_all(tmp_path):
    conf = config(
        tmp_path,
        [{"strategy": "retry", "action": {"run": [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]}}],
    )
    checks = Checks({"app"})
    result = await runner(conf, checks).run(
        "app", conf.components["app"].recovery[0], RunStep(0, "retry", None, "r", 1)
    )
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 3)
    assert result.message == "retry: exit 3" and "boom" in result.text
    assert checks.asked == []


async def test_fallback_verifies_the_candidate_not_the_sick_primary(tmp_path):
    route = tmp_path / "route"
    conf = config(
        tmp_path,
        [{"strategy": "fallback", "candidates": ["standby"], "activate": {"run": write_argv(route)}}],
        {"standby": {"name": "standby", "check": {"kind": "tcp", "port": 9}}},
    )
    checks = Checks({"standby"})
    result = await runner(conf, checks).run(
        "app", conf.components["app"].recovery[0], RunStep(0, "fallback", "standby", "r", 1, candidates=("standby",))
    )
    assert result.outcome is Outcome.SUCCEEDED and result.candidate == "standby"
    assert checks.asked == ["standby"] and route.read_text() == "standby\n"
    assert "the check of standby passed" in result.message


@pytest.fixture
def servers():
    made = [HttpServer(), HttpServer(), HttpServer()]
    yield made
    for server in made:
        server.close()


async def test_fastest_probes_every_candidate_at_once_and_activates_the_first_that_passes(tmp_path, servers):
    slow, fast, broken = servers
    slow.routes["/h"] = Route(200, delay=1.0)
    fast.routes["/h"] = Route(200)
    broken.routes["/h"] = Route(500)
    route = tmp_path / "route"
    check = lambda s: {"kind": "http", "url": s.url("/h"), "timeout": "3s"}  # noqa: E731
    conf = config(
        tmp_path,
        [
            {
                "strategy": "fallback",
                "candidates": ["slow", "broken", "fast"],
                "select": "fastest",
                "activate": {"run": write_argv(route)},
            }
        ],
        {n: {"name": n, "check": check(s)} for n, s in (("slow", slow), ("fast", fast), ("broken", broken))},
    )
    decision = RunStep(0, "fallback", None, "r", 1, candidates=("slow", "broken", "fast"))
    result = await runner(conf, Checks({"fast"})).run("app", conf.components["app"].recovery[0], decision)
    assert result.outcome is Outcome.SUCCEEDED and result.candidate == "fast"
    assert route.read_text() == "fast\n" and "(fastest: answered in" in result.message
    # `slow` is healthy and listed first: only probing all at once lets `fast` win

    fast.routes["/h"] = Route(500)
    slow.routes["/h"] = Route(500)
    none = await runner(conf, Checks(set())).run("app", conf.components["app"].recovery[0], decision)
    assert none.outcome is Outcome.FAILED and "no candidate passed its probe" in none.message
    assert route.read_text() == "fast\n"  # nothing activated


async def test_failback_runs_deactivate_and_verifies_the_primary(tmp_path):
    route = tmp_path / "route"
    conf = config(
        tmp_path,
        [
            {
                "strategy": "fallback",
                "candidates": ["standby"],
                "activate": {"run": write_argv(route)},
                "deactivate": {"run": write_argv(route, "app")},
            }
        ],
        {"standby": {"name": "standby", "check": {"kind": "tcp", "port": 9}}},
    )
    checks = Checks({"app"})
    result = await runner(conf, checks).failback(
        "app", conf.components["app"].recovery[0], Failback(0, "standby", "f", 3)
    )
    assert result.outcome is Outcome.SUCCEEDED and checks.asked == ["app"] and route.read_text() == "app\n"
    without = await runner(conf, checks).failback("app", None, Failback(0, "standby", "f", 3))
    assert without.outcome is Outcome.SUCCEEDED and "no deactivate action configured" in without.message


async def test_restore_without_a_verified_version_fails_and_runs_nothing(tmp_path, db_path):
    from daemon.store.oneshot import runner as db_runner

    out = tmp_path / "then"
    conf = config(tmp_path, [{"strategy": "restore", "checkpoint": "cfg", "then": {"run": write_argv(out, "then")}}])
    checks = Checks({"app"})
    result = await runner(conf, checks, db_runner(db_path)).run(
        "app", conf.components["app"].recovery[0], RunStep(0, "restore", None, "r", 1)
    )
    assert result.outcome is Outcome.FAILED and "no verified checkpoint cfg" in result.message
    assert not out.exists() and checks.asked == []
