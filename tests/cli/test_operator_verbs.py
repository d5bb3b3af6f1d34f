"""The verbs an operator reaches for in the first hour: --version, check --run, config show, notify test."""

from __future__ import annotations

import json
import socket
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from daemon.cli.main import cli
from daemon.config.durations import format_duration
from daemon.config.models import Action, TcpCheck


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart by default
        return CliRunner()


class ConfigDir:
    """A config directory with the modes healerd trusts (not group/other-writable)."""

    def __init__(self, root) -> None:
        self.root = root
        (root / "policies.d").mkdir(parents=True)
        for d in (root, root / "policies.d"):
            d.chmod(0o755)

    def write(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.write_text(text)
        path.chmod(0o644)


@pytest.fixture
def cfg(tmp_path) -> ConfigDir:
    return ConfigDir(tmp_path / "healerd")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_version_is_the_installed_packages():
    result = _runner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"healerd, version {version('healerd')}\n"


def test_check_run_runs_one_check_now_and_exits_like_a_nagios_plugin(cfg):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        cfg.write(
            "policies.d/a.toml",
            f"""
[[component]]
name = "up"
[component.check]
kind = "tcp"
port = {listener.getsockname()[1]}
[[component]]
name = "down"
[component.check]
kind = "tcp"
port = {_closed_port()}
[[component]]
name = "warn"
[component.check]
kind = "exec"
run = ["{sys.executable}", "-c", "print('disk 85% full'); raise SystemExit(1)"]
""",
        )
        runs = {
            name: _runner().invoke(cli, ["check", "--run", name, "--config", str(cfg.root)])
            for name in ("up", "down", "warn", "ghost")
        }
    finally:
        listener.close()
    assert runs["up"].exit_code == 0 and runs["up"].stdout.startswith("up: healthy, ")
    assert runs["down"].exit_code == 2 and runs["down"].stdout.startswith("down: unhealthy, refused, ")
    assert " ms: " in runs["down"].stdout
    assert (
        runs["warn"].exit_code == 1
        and "warn: degraded" in runs["warn"].stdout
        and "disk 85% full" in runs["warn"].stdout
    )
    assert runs["ghost"].exit_code == 3 and "no component named 'ghost'" in runs["ghost"].stderr
    assert "known: down, up, warn" in runs["ghost"].stderr


def test_config_show_prints_the_effective_config_with_the_defaults_filled_in(cfg):
    cfg.write(
        "policies.d/a.toml",
        """
[[component]]
name = "a"
[component.check]
kind = "tcp"
port = 1
[[component.recovery]]
strategy = "retry"
action = { run = ["true"] }
""",
    )
    result = _runner().invoke(cli, ["config", "show", "--config", str(cfg.root)])
    assert result.exit_code == 0, result.stderr
    doc = tomllib.loads(result.stdout)
    (comp,) = doc["component"]
    # defaults the files left out, straight from the models (so this test follows a changed default)
    assert comp["check"]["timeout"] == format_duration(TcpCheck.model_fields["timeout"].default)
    assert comp["check"]["every"] == format_duration(TcpCheck.model_fields["every"].default)
    assert comp["recovery"][0]["action"]["timeout"] == format_duration(Action.model_fields["timeout"].default)
    assert comp["breaker"]["window"] > 0 and doc["daemon"]["cooldown"] and doc["retention"]["raw_results"]
    as_json = _runner().invoke(cli, ["config", "show", "--format", "json", "--config", str(cfg.root)])
    assert json.loads(as_json.stdout)["component"][0]["check"]["timeout"] == comp["check"]["timeout"]


_BAD_FILE = '[[component]]\nname = "typo"\n[component.check]\nkind = "tcp"\nport = 1\ntimout = "1s"\n'


def test_one_rejected_file_does_not_hide_the_good_components_from_check_run_and_config_show(cfg):
    """They said "no component named 'up' (known: none)" and "cannot load" for a typo in another file."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        cfg.write(
            "policies.d/a.toml",
            f'[[component]]\nname = "up"\n[component.check]\nkind = "tcp"\nport = {listener.getsockname()[1]}\n',
        )
        cfg.write("policies.d/b.toml", _BAD_FILE)
        run = _runner().invoke(cli, ["check", "--run", "up", "--config", str(cfg.root)])
    finally:
        listener.close()
    assert run.exit_code == 0 and run.stdout.startswith("up: healthy, "), run.stderr
    assert "1 problem(s) elsewhere" in run.stderr
    show = _runner().invoke(cli, ["config", "show", "--config", str(cfg.root)])
    assert show.exit_code == 1  # the directory has a problem: scripts must notice
    assert "policies.d/b.toml: component[0].check.timout" in show.stderr
    assert [c["name"] for c in tomllib.loads(show.stdout)["component"]] == ["up"]
    assert "# without the file(s) rejected above" in show.stdout
    strict = _runner().invoke(cli, ["check", "--config", str(cfg.root)])
    assert strict.exit_code == 1 and "timout" in strict.stderr  # validation itself stays strict


def test_config_show_names_unset_settings_and_the_state_file_path_and_no_empty_tables(cfg, tmp_path):
    cfg.write("healerd.toml", '[notify.hook]\nkind = "webhook"\nurl = "http://127.0.0.1:1/x"\n')
    db = tmp_path / "state" / "h.db"
    result = _runner().invoke(
        cli, ["config", "show", "--config", str(cfg.root), "--db", str(db)], env={"RUNTIME_DIRECTORY": ""}
    )
    assert result.exit_code == 0, result.stderr
    assert "daemon.incident_url" in result.stdout.splitlines()[1]  # "# not set (no default): …"
    doc = tomllib.loads(result.stdout)
    assert doc["degradation"]["state_file"] == str(tmp_path / "state" / "h.state.json")
    assert "headers" not in doc["notify"]["hook"] and "[notify.hook.headers]" not in result.stdout
    as_json = json.loads(
        _runner().invoke(cli, ["config", "show", "--format", "json", "--config", str(cfg.root), "--db", str(db)]).stdout
    )
    assert "daemon.incident_url" in as_json["unset"]


class _Hook(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


def test_notify_test_sends_a_message_with_the_host_name_and_reports_the_delivery(cfg):
    hook = _Hook()
    try:
        cfg.write(
            "healerd.toml",
            f"""
[notify.hook]
kind = "webhook"
url = "http://127.0.0.1:{hook.server_address[1]}/in"
[notify.dead]
kind = "webhook"
url = "http://127.0.0.1:{_closed_port()}/in"
timeout = "2s"
""",
        )
        ok = _runner().invoke(cli, ["notify", "test", "hook", "--config", str(cfg.root)])
        dead = _runner().invoke(cli, ["notify", "test", "dead", "--config", str(cfg.root)])
        ghost = _runner().invoke(cli, ["notify", "test", "ghost", "--config", str(cfg.root)])
    finally:
        hook.shutdown()
        hook.server_close()
    assert ok.exit_code == 0 and ok.stdout.startswith(
        f"delivered to hook (webhook) from {socket.gethostname()}: 1 attempt"
    )
    (body,) = hook.bodies
    assert body["host"] == socket.gethostname() and body["kind"] == "test"
    assert body["text"].startswith(f"healerd@{socket.gethostname()}: ")
    assert dead.exit_code == 1 and "NOT delivered to dead (webhook)" in dead.stderr
    assert ghost.exit_code == 1 and "no notify channel named 'ghost'" in ghost.stderr
