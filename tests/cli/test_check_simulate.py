"""`healerd check --simulate`: each listed problem is flagged on a crafted config, none on the bundled example."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from daemon.cli.main import cli
from daemon.cli.simulate import simulate_config
from daemon.config.loader import load_config
from daemon.engine.simulate import parse_show, restarted_unit, timespan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: `systemctl show nginx.service --property=StartLimitBurst,StartLimitIntervalUSec,Restart`, recorded on a
#: Debian 12 host (systemd 252) for a unit with `Restart=always` and the default start limits.
RECORDED_SHOW = "Restart=always\nStartLimitIntervalUSec=10s\nStartLimitBurst=5\n"

HEAD = '[notify.ops]\nkind = "log"\n'


def write(root: Path, policies: str) -> Path:
    (root / "policies.d").mkdir(parents=True)
    for d in (root, root / "policies.d"):
        os.chmod(d, 0o755)
    for path, text in ((root / "healerd.toml", HEAD), (root / "policies.d" / "p.toml", textwrap.dedent(policies))):
        path.write_text(text)
        os.chmod(path, 0o644)
    return root


def component(
    name: str, *, steps: str, every: str = "10s", successes: int = 2, extra: str = "", check: str | None = None
) -> str:
    check = check or f'kind = "tcp"\nport = 9\nevery = "{every}"\ntimeout = "2s"'
    return (
        f'[[component]]\nname = "{name}"\n{extra}\n[component.check]\n{check}\n'
        f"[component.breaker]\nhalf_open_successes = {successes}\n{steps}"
    )


ESCALATE = '[[component.recovery]]\nstrategy = "escalate"\nnotify = ["ops"]\n'


def retry(argv: list[str], *, attempts: int = 3, verify: str = "30s") -> str:
    import json

    return (
        f'[[component.recovery]]\nstrategy = "retry"\nattempts = {attempts}\nwithin = "1h"\n'
        f'verify_within = "{verify}"\naction = {{ run = {json.dumps(argv)} }}\n'
        'backoff = { initial = "1s", max = "10s", jitter = "none" }\n'
    )


def simulate(root: Path, *args: str):
    return CliRunner().invoke(cli, ["check", "--simulate", "--config", str(root), *args])


def test_the_bundled_example_has_no_problem(tmp_path):
    config = tmp_path / "examples"
    shutil.copytree(EXAMPLES, config, ignore=shutil.ignore_patterns("run", "__pycache__"))
    for root, _dirs, files in os.walk(config):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(Path(root) / name, 0o644)
    result = simulate(config)
    assert result.exit_code == 0, result.output
    assert "problem:" not in result.output and "no problem found" in result.output
    assert "app: db down 10m: app took 0 actions" in result.output
    assert "app: down 10m: " in result.output and "escalates after" in result.output


def test_a_ladder_that_cannot_reach_escalate_in_the_stated_time_is_flagged(tmp_path):
    slow = retry(["true"], attempts=12, verify="1m")  # 12 × 1 min of verification before escalating
    root = write(tmp_path / "etc", component("app", steps=slow + ESCALATE))
    result = simulate(root)
    assert result.exit_code == 1
    assert "problem: app: down 10m: the ladder does not reach escalate within 10m" in result.output
    assert simulate(root, "--escalate-within", "30m").exit_code == 0


def test_verify_within_shorter_than_cadence_times_the_breaker_threshold_is_flagged(tmp_path):
    root = write(
        tmp_path / "etc", component("app", every="10s", successes=3, steps=retry(["true"], verify="20s") + ESCALATE)
    )
    result = simulate(root)
    assert result.exit_code == 1
    assert (
        "problem: app: recovery[0] (retry): verify_within 20s is shorter than the check cadence × "
        "half_open_successes (10s × 3 = 30s)"
    ) in result.output


def test_unit_limits_are_skipped_with_a_note_when_systemd_is_absent(tmp_path):
    root = write(tmp_path / "etc", component("web", steps=retry(["systemctl", "restart", "nginx.service"]) + ESCALATE))
    result = simulate(root)
    assert "note: systemd unit limits not checked (" in result.output and "nginx.service" in result.output
    assert result.exit_code == 0, result.output


def test_a_budget_over_the_units_start_limit_and_its_own_restart_are_flagged_from_systemctl_show(tmp_path, capsys):
    root = write(
        tmp_path / "etc",
        component("web", steps=retry(["/usr/bin/systemctl", "restart", "nginx.service"], attempts=5) + ESCALATE),
    )
    config = load_config(root)[0].config
    asked = []

    def show(unit):
        asked.append(unit)
        return parse_show(RECORDED_SHOW)

    assert simulate_config(config, absent=None, show=show) == 1
    out = capsys.readouterr().out
    assert asked == ["nginx.service"]
    assert (
        "problem: web: recovery[0] (retry) restarts nginx.service: 5 attempts within 1h reach the unit's "
        "StartLimitBurst=5 within StartLimitIntervalSec=10s"
    ) in out
    assert "Start request repeated too quickly" in out
    assert "problem: web: recovery[0] (retry) restarts nginx.service, which has its own Restart=always" in out

    fine = parse_show("Restart=no\nStartLimitIntervalUSec=10s\nStartLimitBurst=5\n")
    small = write(
        tmp_path / "ok", component("web", steps=retry(["systemctl", "restart", "nginx"], attempts=2) + ESCALATE)
    )
    assert simulate_config(load_config(small)[0].config, absent=None, show=lambda unit: fine) == 0


def test_an_action_that_restarts_another_components_dependency_is_flagged(tmp_path):
    policies = (
        component("db", steps=ESCALATE, check='kind = "systemd"\nunit = "postgresql.service"\nevery = "10s"')
        + component("app", extra='depends_on = ["db"]', steps=ESCALATE)
        + component("cache", steps=retry(["systemctl", "restart", "postgresql"]) + ESCALATE)
    )
    result = simulate(write(tmp_path / "etc", policies))
    assert result.exit_code == 1
    assert (
        "problem: cache: recovery[0] (retry) restarts postgresql, the unit of db, which app depend(s) on"
        in result.output
    )


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("10s", 10.0),
        ("1min 30s", 90.0),
        ("500ms", 0.5),
        ("infinity", None),
        ("", None),
        ("10000000", 10.0),
        ("2h", 7200.0),
    ],
)
def test_systemd_time_spans_parse(text, seconds):
    assert timespan(text) == seconds


def test_only_systemctl_restart_like_verbs_name_a_restarted_unit():
    assert restarted_unit(["systemctl", "--no-block", "restart", "a.service"]) == "a.service"
    assert restarted_unit(["/bin/systemctl", "try-restart", "b"]) == "b"
    assert restarted_unit(["systemctl", "status", "a"]) is None
    assert restarted_unit(["service", "a", "restart"]) is None
