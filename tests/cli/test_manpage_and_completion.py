"""healerd(1) is generated from the CLI itself and lists all of it; click's shell completion works.

The command tree is walked here through click's own API, not a list, so a verb added later (in any
module of daemon/cli/) must show up in the page, and the test says which one is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from daemon.cli import _manpage
from daemon.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
HEALERD = Path(sys.executable).parent / "healerd"


def commands() -> list[tuple[str, click.Command, click.Context]]:
    root = click.Context(cli, info_name="healerd")
    return [(ctx.command_path, cmd, ctx) for cmd, ctx in _manpage.walk(cli, root)]


def section(page: str, path: str) -> str:
    """The page's text for one command: from its .SS heading to the next one."""
    start = page.index(f'.SS "{_manpage.escape(path)}')
    end = page.find("\n.SS ", start + 1)
    return page[start : end if end != -1 else page.index("\n.SH", start)]


def test_the_manual_has_every_command_and_each_of_its_options():
    page = _manpage.render(date="2026-01-01")
    paths = [path for path, _, _ in commands()]
    assert {"healerd run", "healerd check", "healerd breaker reset", "healerd chaos run"} <= set(paths)
    for path, command, _ctx in commands():
        assert f'.SS "{_manpage.escape(path)}' in page, f"healerd(1) lacks the command `{path}`"
        text = section(page, path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert _manpage.escape(opt) in text, f"healerd(1) lacks option {opt} of `{path}`"
        first_help_line = (command.help or "").strip().split("\n")[0]
        assert _manpage.escape(" ".join(first_help_line.split()[:4])) in text, f"`{path}`'s help is missing"


def test_a_command_added_to_the_cli_appears_in_the_manual():
    @click.group()
    def group() -> None:
        """A test group."""

    @group.command("frobnicate")
    @click.option("--dry-run", is_flag=True, help="Only say what would happen.")
    def frobnicate(dry_run: bool) -> None:
        """Frobnicate the widgets - with a .dot line
        and a backslash \\ inside."""

    page = _manpage.render(group, name="healerd", date="2026-01-01")
    text = section(page, "healerd frobnicate [OPTIONS]")
    assert "\\-\\-dry\\-run" in text and "Only say what would happen." in text
    assert "\\e" in text  # a literal backslash cannot start a roff escape


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_make_man_writes_a_page_that_groff_renders_without_a_warning(tmp_path):
    if shutil.which("make"):
        subprocess.run(
            ["make", "-C", str(REPO), "man", f"PYTHON={sys.executable}", f"MAN_DIR={tmp_path}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    else:  # the same command the target runs
        _manpage.main(["-o", str(tmp_path / "healerd.1")])
    page = tmp_path / "healerd.1"
    lint = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=60)
    assert (lint.returncode, lint.stderr) == (0, "")
    text = subprocess.run(
        ["groff", "-man", "-Tutf8", str(page)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    plain = re.sub(r".\x08", "", text)  # groff's overstrike: bold "b\bb", underline "_\bx"
    assert "SHELL COMPLETION" in plain and "healerd breaker reset" in plain


def complete_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{HEALERD.parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _healerd_completion healerd"),
        ("zsh", "#compdef healerd"),
        ("fish", "complete --no-files --command healerd"),
    ],
)
def test_clicks_completion_variable_prints_a_script_for_each_shell(shell, marker):
    out = subprocess.run(
        [str(HEALERD)],
        env=complete_env(_HEALERD_COMPLETE=f"{shell}_source"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert marker in out.stdout and "_HEALERD_COMPLETE" in out.stdout


def test_bash_completion_completes_verbs_subcommands_and_options():
    """The bash script, sourced in a real bash, asks healerd and fills COMPREPLY."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = (
        'eval "$(_HEALERD_COMPLETE=bash_source healerd)"\n'
        "for line in 'healerd bre' 'healerd breaker ' 'healerd status --'; do\n"
        '  read -ra COMP_WORDS <<< "$line"; [[ "$line" == *" " ]] && COMP_WORDS+=("")\n'
        "  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()\n"
        '  _healerd_completion healerd; echo "${COMPREPLY[*]}"\n'
        "done\n"
    )
    out = subprocess.run(["bash", "-c", script], env=complete_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    verbs, breaker, status = out.stdout.splitlines()
    assert verbs.split() == ["breaker"]
    assert {"disable", "open", "reset"} <= set(breaker.split())
    assert {"--db", "--json"} <= set(status.split())


def test_the_readme_documents_completion_for_each_shell_and_the_manual():
    readme = (REPO / "README.md").read_text()
    for line in (
        'eval "$(_HEALERD_COMPLETE=bash_source healerd)"',
        'eval "$(_HEALERD_COMPLETE=zsh_source healerd)"',
        "_HEALERD_COMPLETE=fish_source healerd > ~/.config/fish/completions/healerd.fish",
        "`make man`",
        "make install-man",
    ):
        assert line in readme, f"README.md lacks {line!r}"
    makefile = (REPO / "Makefile").read_text()
    assert "-m daemon.cli._manpage -o $(MAN_DIR)/healerd.1" in makefile


def test_the_manuals_exit_status_lists_every_exit_code_the_cli_defines():
    """Exit 4 (wrong --db) and check --run's Nagios codes were missing from EXIT STATUS."""
    from daemon import errors
    from daemon.cli.check import NAGIOS_EXIT

    page = _manpage.render(date="2026-01-01")
    exit_status = page[page.index('.SH "EXIT STATUS"') : page.index('.SH "SEE ALSO"')]
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    for code in sorted(codes | {0, 1, 2}):
        assert f".B {code}\n" in exit_status, code
    assert "check \\-\\-run" in exit_status
    for status, code in NAGIOS_EXIT.items():
        assert f"{code} {status}" in exit_status
