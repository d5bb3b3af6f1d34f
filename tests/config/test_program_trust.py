"""Programs that a config file makes healerd run get the config-file trust rule (review1 D7)."""

from __future__ import annotations

import os

from config_helpers import component

RETRY = """
[[component.recovery]]
strategy = "retry"
action = {{ run = {argv} }}
"""


def _policy(argv: str) -> str:
    return component("a") + RETRY.format(argv=argv)


def test_script_run_by_an_interpreter_that_others_can_write_is_refused_at_its_run_key(cfg):
    cfg.write("services/fix.py", "print('hi')\n", mode=0o666)
    cfg.write("policies.d/a.toml", _policy('["python3", "-u", "services/fix.py", "--now"]'))
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml: component[0].recovery[0].action.run")
    assert f"group or others can write the program {cfg.root / 'services/fix.py'} (mode 0666)" in problem


def test_program_in_a_writable_directory_of_the_config_tree_is_refused(cfg):
    cfg.write("services/fix.py", "print('hi')\n")
    os.chmod(cfg.root / "services", 0o777)
    cfg.write("policies.d/a.toml", _policy('["python3", "services/fix.py"]'))
    (problem,) = cfg.problems()
    assert f"the directory {cfg.root / 'services'} holding the program" in problem


def test_argv0_given_as_a_path_is_checked_wherever_it_lives(cfg, tmp_path):
    outside = tmp_path / "restart.sh"
    outside.write_text("#!/bin/sh\n")
    os.chmod(outside, 0o757)
    cfg.write("policies.d/a.toml", _policy(f'["{outside}"]'))
    (problem,) = cfg.problems()
    assert f"group or others can write the program {outside} (mode 0757)" in problem


def test_trusted_programs_bare_commands_and_missing_files_load(cfg):
    cfg.write("services/fix.py", "print('hi')\n", mode=0o755)
    cfg.write(
        "policies.d/a.toml",
        _policy('["python3", "services/fix.py", "/tmp/not-checked-0777"]')
        + component("b")
        + RETRY.format(argv='["systemctl", "restart", "b.service"]'),
    )
    assert cfg.problems() == []


def test_fixing_the_program_mode_makes_the_file_load_on_the_next_reload(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    good, _ = cfg.load()
    cfg.write("services/fix.py", "print('hi')\n", mode=0o666)
    cfg.write("policies.d/b.toml", _policy('["python3", "services/fix.py"]').replace('"a"', '"b"'))
    held, problems = cfg.load(previous=good)
    assert sorted(held.config.components) == ["a"] and len(problems) == 1
    os.chmod(cfg.root / "services/fix.py", 0o644)
    fixed, problems = cfg.load(previous=held)
    assert problems == [] and sorted(fixed.config.components) == ["a", "b"]


def test_inline_code_after_dash_c_is_not_taken_for_a_script_path(cfg):
    """`python3 -c CODE`: CODE is the program, written in the config itself; a long one once crashed the
    loader with ENAMETOOLONG while being looked up as a file."""
    code = "import sys\\n" + "x = 1\\n" * 200
    cfg.write("policies.d/a.toml", _policy(f'["python3", "-c", "{code}", "services/untrusted.py"]'))
    cfg.write("services/untrusted.py", "print('hi')\n", mode=0o666)
    assert cfg.problems() == []


def test_an_argument_too_long_for_a_path_is_not_a_script(cfg):
    cfg.write("policies.d/a.toml", _policy(f'["python3", "{"y" * 300}"]'))
    assert cfg.problems() == []
