"""`${NAME}` / `${NAME:-default}` in config strings: one directory for a checkout and a systemd host."""

from __future__ import annotations

from config_helpers import component

from daemon.config.envsubst import expand


def test_braced_references_are_filled_and_defaults_apply_when_unset_or_empty():
    data = {"a": ["${RUNTIME_DIRECTORY:-run}/x.pid", "${EMPTY:-d}", "${HOME}/y", "$HOME", "$${HOME}"]}
    out, problems = expand(data, {"HOME": "/root", "EMPTY": ""})
    assert out == {"a": ["run/x.pid", "d", "/root/y", "$HOME", "${HOME}"]}
    assert problems == []
    out, _ = expand(data, {"HOME": "/root", "RUNTIME_DIRECTORY": "/run/healerd"})
    assert out["a"][0] == "/run/healerd/x.pid"


def test_an_unset_variable_without_default_is_a_problem_with_its_key_and_line(cfg, monkeypatch):
    monkeypatch.delenv("HEALERD_TEST_UNSET", raising=False)
    cfg.write("policies.d/a.toml", component("a", 'pidfile = "${HEALERD_TEST_UNSET}/a.pid"'))
    problems = cfg.problems()
    assert len(problems) == 1
    assert "policies.d/a.toml" in problems[0] and "component[0].pidfile" in problems[0]
    assert "HEALERD_TEST_UNSET is not set" in problems[0]


def test_a_number_field_takes_a_port_from_the_environment(cfg, monkeypatch):
    monkeypatch.setenv("HEALERD_TEST_PORT", "18082")
    cfg.write("policies.d/a.toml", component("a", check='kind = "tcp"\nport = "${HEALERD_TEST_PORT:-8082}"'))
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.components["a"].check.port == 18082
