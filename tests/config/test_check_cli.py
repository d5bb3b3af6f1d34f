"""`healerd check`: exit 0 and one summary line when valid, exit 1 and one stderr line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from config_helpers import SETTINGS, component

from daemon.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
HEALERD = Path(sys.executable).parent / "healerd"


def _broken(cfg) -> None:
    cfg.write("policies.d/a.toml", component("a", 'depends_on = ["ghost"]', 'kind = "tcp"\nport = 1\ntimout = "1s"'))
    cfg.write("policies.d/b.yaml", "component:\n  - name: b\n    check: {kind: tcp, port: 1\n")


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart by default
        return CliRunner()


def test_check_valid_directory_prints_summary_and_exits_0(cfg):
    cfg.write("healerd.toml", SETTINGS)
    cfg.write("policies.d/a.toml", component("a") + component("b"))
    result = _runner().invoke(cli, ["check", "--config", str(cfg.root)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: 2 components, 0 checkpoints, 1 channel, 0 experiments in {cfg.root}\n"


def test_check_invalid_directory_prints_one_line_per_problem_on_stderr_and_exits_1(cfg):
    _broken(cfg)
    result = _runner().invoke(cli, ["check", "--config", str(cfg.root)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "policies.d/a.toml: component[0].check.timout (line 7): unknown key; did you mean 'timeout'? (unknown keys are refused)",
        "policies.d/b.yaml (line 4): invalid YAML: expected ',' or '}', but got '<stream end>' (while parsing a flow mapping)",
    ]


def test_check_reads_healerd_config_from_the_environment(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    result = _runner().invoke(cli, ["check"], env={"HEALERD_CONFIG": str(cfg.root)})
    assert result.exit_code == 0 and str(cfg.root) in result.stdout


def test_check_as_a_real_process_on_the_examples_and_on_a_broken_directory(cfg):
    ok = subprocess.run(
        [str(HEALERD), "check", "--config", str(REPO / "examples")], capture_output=True, text=True, timeout=60
    )
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout == f"ok: 3 components, 1 checkpoint, 2 channels, 1 experiment in {REPO / 'examples'}\n"

    _broken(cfg)
    bad = subprocess.run([str(HEALERD), "check", "--config", str(cfg.root)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("policies.d/a.toml: component[0].check.timout (line 7)")
    assert lines[1].startswith("policies.d/b.yaml (line 4): invalid YAML")
