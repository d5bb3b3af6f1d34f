"""Issue 16, items 1–8: the offending files a fuzzer found, each refused at its key with a clear error.

Each test writes the file the issue names and pins what the loader says about it; on the code before
issue 16 each of these loaded (and then broke the daemon) or broke the reload without naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from config_helpers import component

from daemon.config.problems import Problem

MAX_DEPTH = 32  # daemon.config.limits.MAX_DEPTH (spelled out so this file runs against older code too)
MAX_ECHO = 80  # daemon.config.problems.MAX_ECHO


def _one(cfg) -> Problem:
    loaded, problems = cfg.load()
    assert loaded is None and len(problems) == 1, problems
    return problems[0]


# --- item 1: durations have a documented range ------------------------------------------------------


@pytest.mark.parametrize(
    "every, message",
    [
        ('"3650000d"', "is longer than any duration healerd accepts (3650d)"),
        ('"2d"', "must be between 100ms and 1d"),
        ('"10ms"', "must be between 100ms and 1d"),
    ],
)
def test_an_every_out_of_its_documented_range_is_refused_at_its_key(cfg, every, message):
    cfg.write("policies.d/a.toml", component("a", check=f'kind = "tcp"\nport = 1\nevery = {every}\ntimeout = "50ms"'))
    problem = _one(cfg)
    assert (problem.key, problem.line, problem.message) == ("component[0].check.every", 7, message)


def test_every_documented_duration_range_accepts_its_bounds_and_refuses_beyond(cfg):
    from daemon.config import limits
    from daemon.config.durations import parse_duration

    for field, (low, high) in limits.DURATION_RANGES.items():
        assert limits.check(field, low) == low and limits.check(field, high) == high
        with pytest.raises(ValueError):
            limits.check(field, high + parse_duration("1ms"))
    cfg.write("healerd.toml", '[daemon]\nfast_every = "2h"\n[retention]\nraw_results = "3651d"\n')
    keys = {(p.key, p.message) for p in cfg.load()[1]}
    assert keys == {
        ("daemon.fast_every", "must be between 100ms and 1h"),
        ("retention.raw_results", "is longer than any duration healerd accepts (3650d)"),
    }


# --- item 6: overflowing durations and huge values are named, and echoes are capped ---------------------


def test_an_overflowing_duration_is_reported_at_its_key_and_line_not_as_a_crash(cfg):
    cfg.write("policies.d/a.toml", component("a", check='kind = "tcp"\nport = 1\nevery = "99999999999999999999d"'))
    problem = _one(cfg)
    assert (problem.key, problem.line) == ("component[0].check.every", 7)
    assert "OverflowError" not in problem.message and "could not be read" not in problem.message


@pytest.mark.parametrize("where", ["name", "depends_on", "notify", "kind"])
def test_a_megabyte_value_is_echoed_at_most_a_few_dozen_characters(cfg, where):
    big = "Z" * 1_000_000
    if where == "name":
        cfg.write("policies.d/a.toml", f'[[component]]\nname = "a{big}"\n[component.check]\nkind = "tcp"\nport = 1\n')
    elif where == "depends_on":
        cfg.write("policies.d/a.toml", component("a", f'depends_on = ["{big}"]'))
    elif where == "notify":
        cfg.write("healerd.toml", f'[notify.{big}]\nkind = "log"\n')
    else:
        cfg.write("policies.d/a.toml", component("a", check=f'kind = "{big}"\nport = 1'))
    loaded, problems = cfg.load()
    assert loaded is None and problems
    for problem in problems:
        assert len(str(problem)) < 1000, str(problem)[:300]
        assert big[: MAX_ECHO + 1] not in str(problem)


# --- item 3: nesting is bounded; a file that cannot be serialised is that file's problem -----------------


def test_json_equals_nested_300_deep_is_refused_at_its_key(cfg):
    nested = "1"
    for _ in range(300):
        nested = f"[{nested}]"
    check = f'kind = "http"\nurl = "http://127.0.0.1:1/"\njson_path = "a"\njson_equals = {nested}'
    cfg.write("policies.d/a.toml", component("a", check=check))
    problem = _one(cfg)
    assert (problem.key, problem.message) == (
        "component[0].check.json_equals",
        f"nested more than {MAX_DEPTH} levels deep",
    )


def test_json_equals_nested_within_the_bound_loads_and_serialises(cfg):
    nested = "1"
    for _ in range(MAX_DEPTH - 1):
        nested = f"[{nested}]"
    check = f'kind = "http"\nurl = "http://127.0.0.1:1/"\njson_path = "a"\njson_equals = {nested}'
    cfg.write("policies.d/a.toml", component("a", check=check))
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.components["a"].model_dump_json()


def test_an_exception_while_reading_one_file_is_that_files_problem_on_reload(cfg, monkeypatch):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    cfg.write("policies.d/a.toml", component("a", "weight = 2.0"))
    cfg.write("policies.d/b.toml", component("b", "weight = 3.0"))
    from daemon.config import models

    real = models.PolicyFile.model_dump_json

    def explode(self, **kw):
        if any(c.name == "b" for c in self.component):
            raise RecursionError("maximum recursion depth exceeded")
        return real(self, **kw)

    monkeypatch.setattr(models.PolicyFile, "model_dump_json", explode)
    second, problems = cfg.load(previous=first)
    assert [p.path for p in problems] == ["policies.d/b.toml"]
    assert second.config.components["a"].weight == 2.0 and second.config.components["b"].weight == 1.0


# --- item 4: finite, bounded numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e308"])
def test_a_weight_that_is_not_a_finite_bounded_number_is_refused(cfg, value):
    cfg.write("policies.d/a.toml", component("a", f"weight = {value}"))
    problem = _one(cfg)
    assert problem.key == "component[0].weight"


def test_yaml_infinity_in_a_free_form_value_is_refused(cfg):
    cfg.write(
        "policies.d/a.yaml",
        "component:\n  - name: a\n    check: {kind: http, url: 'http://127.0.0.1:1/', "
        "json_path: a, json_equals: .inf}\n",
    )
    assert _one(cfg).key == "component[0].check.json_equals"


# --- item 5: NUL bytes and impossible values ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        (component("a", check='kind = "file"\npath = "/tmp/a\\u0000b"'), "component[0].check.path"),
        (component("a", check='kind = "disk"\npath = "/\\u0000"'), "component[0].check.path"),
        (component("a", check='kind = "sqlite"\npath = "x\\u0000.db"'), "component[0].check.path"),
        (component("a", check='kind = "exec"\nrun = ["/bin/true", "a\\u0000b"]'), "component[0].check.run"),
        (
            '[[checkpoint]]\nname = "c"\ncomponent = "a"\npaths = ["/etc/a\\u0000"]\n' + component("a"),
            "checkpoint[0].paths",
        ),
        (component("a", check='kind = "http"\nurl = "http://' + "h" * 1_000_000 + '/"'), "component[0].check.url"),
        (component("a", 'pidfile = "/run/\\u0000.pid"'), "component[0].pidfile"),
    ],
)
def test_nul_bytes_and_impossible_values_are_refused_at_validation(cfg, text, key):
    cfg.write("policies.d/a.toml", text)
    assert _one(cfg).key == key


# --- item 7: a cycle across two files names both ---------------------------------------------------------


def test_a_depends_on_cycle_across_two_files_names_both_and_rolls_both_back(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    cfg.write("policies.d/a.toml", component("a", 'depends_on = ["b"]'))
    cfg.write("policies.d/b.toml", component("b", 'depends_on = ["a"]'))
    second, problems = cfg.load(previous=first)
    assert {p.path for p in problems} == {"policies.d/a.toml", "policies.d/b.toml"}
    assert all("dependency cycle: a → b → a" in p.message for p in problems)
    assert second.held == frozenset({"policies.d/a.toml", "policies.d/b.toml"})


# --- item 2: a file name that is not UTF-8 ---------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_named_escaped_and_rejected_the_rest_loads(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    bad = os.path.join(os.fsencode(cfg.root / "policies.d"), b"bad-\xff\xfe-name.toml")
    with open(bad, "wb") as f:
        f.write(component("b").encode())
    os.chmod(bad, 0o644)
    first, _ = cfg.load()
    assert first is None  # at start-up any problem refuses the directory
    cfg_only_a = cfg.root / "policies.d" / "a.toml"
    assert cfg_only_a.exists()
    os.unlink(bad)
    first, _ = cfg.load()
    with open(bad, "wb") as f:
        f.write(component("b").encode())
    os.chmod(bad, 0o644)
    second, problems = cfg.load(previous=first)
    assert [str(p) for p in problems] == [
        "policies.d/bad-\\xff\\xfe-name.toml: the file name is not valid UTF-8, so it is not loaded: rename it"
    ]
    assert list(second.config.components) == ["a"]
    str(problems[0]).encode("utf-8")  # storable and loggable


# --- item 8: a symlink to a secret never echoes its content ---------------------------------------------

SHADOW = "root:$6$SECRETSALT$HASHHASHHASH0123456789:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


def _secret_symlink(cfg, tmp_path, mode=0o640) -> str:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    secret = outside / "shadow"
    secret.write_text(SHADOW)
    os.chmod(secret, mode)
    (cfg.root / "policies.d").mkdir(exist_ok=True, mode=0o755)
    os.chmod(cfg.root / "policies.d", 0o755)
    os.symlink(secret, cfg.root / "policies.d" / "leak.yaml")
    return str(secret)


def test_a_symlink_to_a_shadow_file_is_refused_without_echoing_a_byte_of_it(cfg, tmp_path):
    _secret_symlink(cfg, tmp_path)
    problem = _one(cfg)
    assert (problem.path, problem.key, problem.line) == ("policies.d/leak.yaml", "", 1)
    assert "not a mapping of config keys" in problem.message
    for secret in ("SECRETSALT", "HASHHASH", "root", "daemon"):
        assert secret not in str(problem)


def test_healerd_check_output_does_not_echo_the_secret(cfg, tmp_path):
    _secret_symlink(cfg, tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "check", "--config", str(cfg.root)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "leak.yaml" in out.stderr
    assert "SECRETSALT" not in out.stdout + out.stderr and "HASHHASH" not in out.stdout + out.stderr


def test_a_symlink_target_that_fails_the_trust_rules_is_refused_and_named(cfg, tmp_path):
    target = _secret_symlink(cfg, tmp_path, mode=0o666)
    problem = _one(cfg)
    assert f"the symlink's target {target}" in problem.message and "SECRETSALT" not in problem.message


def test_unknown_keys_that_are_not_key_like_are_not_echoed(cfg):
    cfg.write(
        "policies.d/a.yaml", "component:\n  - name: a\n    check: {kind: tcp, port: 1}\n    'hunter2:$6$SECRET:': 1\n"
    )
    problem = _one(cfg)
    assert (problem.key, problem.line) == ("component[0]", 4) and "SECRET" not in str(problem)


def test_sizes_and_queue_lengths_have_their_own_larger_bound(cfg):
    cfg.write("healerd.toml", "[daemon]\nmax_queue = 5000000\n")
    cfg.write("policies.d/a.toml", component("a", check='kind = "file"\npath = "x"\nmin_size = "2GB"'))
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.components["a"].check.min_size == 2 * 10**9
    cfg.write("policies.d/a.toml", component("a", check='kind = "file"\npath = "x"\nmin_size = "2000TB"'))
    assert _one(cfg).key == "component[0].check.min_size"


def test_unchanged_bad_bytes_are_not_parsed_again_on_the_next_reload(cfg, monkeypatch):
    from daemon.config import files

    cfg.write("policies.d/a.toml", component("a"))
    first, _ = cfg.load()
    cfg.write("policies.d/bad.toml", component("b", "weight = inf"))
    parsed: list[str] = []
    real = files._parse
    monkeypatch.setattr(files, "_parse", lambda entry, text: (parsed.append(entry.relpath), real(entry, text))[1])
    second, problems = cfg.load(previous=first)
    third, again = cfg.load(previous=second)
    assert parsed == ["policies.d/bad.toml"] and again == problems and len(problems) == 1
    cfg.write("policies.d/bad.toml", component("b", "weight = 2.0"))
    fourth, fixed = cfg.load(previous=third)
    assert parsed == ["policies.d/bad.toml"] * 2 and fixed == [] and "b" in fourth.config.components
