"""Problems name the file, the operator's key path and the line; every problem is reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from config_helpers import component

from daemon.config.problems import Problem, format_key


def test_problem_reads_file_key_line_message():
    p = Problem("policies.d/app.toml", "component[0].check.timeout", "must be longer than zero", 14)
    assert str(p) == "policies.d/app.toml: component[0].check.timeout (line 14): must be longer than zero"
    assert str(Problem("healerd.toml", "", "invalid TOML: x", 3)) == "healerd.toml (line 3): invalid TOML: x"
    assert str(Problem("policies.d", "", "bad", None)) == "policies.d: bad"


def test_key_path_quotes_keys_that_are_not_bare():
    assert format_key(("notify", "ops.pager", "url")) == 'notify."ops.pager".url'
    assert format_key(("component", 0, "recovery", 2, "candidates", 0)) == "component[0].recovery[2].candidates[0]"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("250ms", timedelta(milliseconds=250)),
        ("5s", timedelta(seconds=5)),
        ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("1.5s", timedelta(seconds=1.5)),
    ],
)
def test_each_duration_form_loads(cfg, text, expected):
    # max_age: a duration whose documented range spans every form (a check's timeout stops at 1h)
    cfg.write("policies.d/a.toml", component("a", check=f'kind = "file"\npath = "x"\nmax_age = "{text}"'))
    loaded, problems = cfg.load()
    assert problems == []
    assert loaded.config.components["a"].check.max_age == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ('"0s"', "must be longer than zero"),
        ("5", "a duration is a string"),
        ('"5 sec"', "is not a duration"),
        ('"-1s"', "is not a duration"),
    ],
)
def test_bad_durations_are_problems_with_key_and_line(cfg, value, message):
    cfg.write("policies.d/a.toml", component("a", check=f'kind = "tcp"\nport = 1\ntimeout = {value}'))
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml: component[0].check.timeout (line 7): ")
    assert message in problem


def test_unknown_key_deep_in_toml_has_operator_path_line_and_suggestion(cfg):
    cfg.write(
        "policies.d/app.toml",
        """
        [[component]]
        name = "first"
        [component.check]
        kind = "tcp"
        port = 1

        [[component]]
        name = "second"
        [component.check]
        kind = "tcp"
        port = 2

        [[component.recovery]]
        strategy = "retry"
        action = { run = ["true"] }

        [[component.recovery]]
        strategy = "retry"
        [component.recovery.action]
        run = ["true"]
        timout = "5s"
        """,
    )
    assert cfg.problems() == [
        "policies.d/app.toml: component[1].recovery[1].action.timout (line 21): "
        "unknown key; did you mean 'timeout'? (unknown keys are refused)"
    ]


def test_unknown_key_in_yaml_has_operator_path_and_exact_line(cfg):
    cfg.write(
        "policies.d/app.yaml",
        """
        component:
          - name: a
            check: {kind: tcp, port: 1}
          - name: b
            check:
              kind: http
              url: http://127.0.0.1/
              expect_status: [200]
              bodycontains: ok
        """,
    )
    assert cfg.problems() == [
        "policies.d/app.yaml: component[1].check.bodycontains (line 9): "
        "unknown key; did you mean 'body_contains'? (unknown keys are refused)"
    ]


def test_union_tags_never_appear_in_key_paths(cfg):
    cfg.write(
        "experiments.d/x.toml",
        """
        [experiment]
        name = "x"
        target = "a"
        duration = "1m"
        fault = { kind = "run", revert = ["true"] }
        """,
    )
    cfg.write("policies.d/a.toml", component("a"))
    (problem,) = cfg.problems()
    assert problem == "experiments.d/x.toml: experiment.fault.run (line 5): required key is missing"


def test_every_problem_is_reported_not_only_the_first(cfg):
    cfg.write("healerd.toml", '[daemon]\nlog_level = "loud"\n[notify.ops]\nkind = "sms"\n')
    cfg.write(
        "policies.d/a.toml",
        component("a", "weight = -1", 'kind = "tcp"\nport = 70000')
        + component("B")
        + component("c", check='kind = "tcp"\nport = 1\ntimeout = "1m"'),
    )
    cfg.write("policies.d/b.yaml", "component:\n  - name: d\n    check: {kind: tcp}\n")
    problems = cfg.problems()
    keys = [p.split(" (line")[0] for p in problems]
    assert keys == [
        "healerd.toml: daemon.log_level",
        "healerd.toml: notify.ops",
        "policies.d/a.toml: component[0].weight",
        "policies.d/a.toml: component[0].check.port",
        "policies.d/a.toml: component[1].name",
        "policies.d/a.toml: component[2].check",  # timeout longer than every
        "policies.d/b.yaml: component[0].check.port",
    ]
    assert "unknown kind 'sms'" in problems[1]
    assert "'B' is not a valid name" in problems[4]
    assert "timeout must not be longer than every" in problems[5]


def test_toml_syntax_error_carries_its_line(cfg):
    cfg.write("policies.d/a.toml", '[[component]]\nname = "a"\n[component.check\nkind = "tcp"\n')
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml (line 3): invalid TOML: ")


def test_toml_error_at_end_of_document_points_at_the_last_line(cfg):
    cfg.write("policies.d/a.toml", '[[component]]\nname = "a\n')
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml (line 2): invalid TOML: ")


def test_yaml_syntax_error_carries_its_line(cfg):
    cfg.write("policies.d/a.yaml", "component:\n  - name: a\n    check: {kind: tcp, port: 1\n  - name: b\n")
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.yaml (line 4): invalid YAML: ")


def test_yaml_file_must_be_a_mapping(cfg):
    cfg.write("policies.d/a.yml", "- name: a\n")
    assert cfg.problems() == [
        "policies.d/a.yml (line 1): not a mapping of keys (a YAML config file must be one, this is a list)"
    ]


def test_yaml_duplicate_key_is_refused_not_silently_overwritten(cfg):
    cfg.write("policies.d/a.yaml", "component:\n  - name: a\n    check: {kind: tcp, port: 1}\n    name: b\n")
    assert cfg.problems() == [
        "policies.d/a.yaml: component[0].name (line 4): written twice (first on line 2); YAML would silently keep the last"
    ]


def test_empty_yaml_and_toml_policy_files_are_valid_and_empty(cfg):
    cfg.write("policies.d/a.yaml", "# nothing yet\n")
    cfg.write("policies.d/b.toml", "")
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.components == {}


def test_file_that_is_not_utf8_is_a_problem_with_its_line(cfg):
    path = cfg.write("policies.d/a.toml", "")
    path.write_bytes(b'[[component]]\nname = "caf\xe9"\n')
    assert cfg.problems() == ["policies.d/a.toml (line 2): not UTF-8 text"]


def test_common_pydantic_messages_are_reworded_for_operators(cfg):
    cfg.write("healerd.toml", '[notify.Bad]\nkind = "log"\n[notify."ops.pager"]\nkind = "webhook"\nurl = "ftp://x"\n')
    cfg.write(
        "policies.d/a.toml", component("a") + '[[component.recovery]]\nstrategy = "retry"\naction = { run = [] }\n'
    )
    assert cfg.problems() == [
        "healerd.toml: notify.Bad (line 1): 'Bad' is not a valid name: lowercase letters, digits, '_', '.' and '-', "
        "starting with a letter or digit",
        "healerd.toml: notify.\"ops.pager\".url (line 5): 'ftp://x' is not an http:// or https:// URL",
        "policies.d/a.toml: component[0].recovery[0].action.run (line 9): must not be empty",
    ]
