"""The README's Quick start is exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## .*quick ?start\n(.*?)^## ", text, re.S | re.M | re.I).group(1)
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands_one_runs_the_daemon_on_examples_one_the_tests():
    commands = quick_start_commands()
    assert len(commands) == 2
    daemon, tests = commands
    assert "healerd run --config examples" in daemon
    assert tests.endswith("pytest -q")


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    declared = re.search(r"^TEST_COMMAND='(.*)'$", ci, re.M).group(1)
    assert declared == quick_start_commands()[1]
