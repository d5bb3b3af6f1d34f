"""`healerd fleet …` as an operator runs it (a real subprocess) against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from types import SimpleNamespace

from kit import FakeRuntime, add_component, add_results, fleet_settings, local, set_breaker


def healerd(*args: str, env: dict | None = None):
    """In-process (click's runner: the suite's time budget); the first test runs a real subprocess."""
    from click.testing import CliRunner

    from daemon.cli.main import cli

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps stderr apart
        runner = CliRunner()
    result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def healerd_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_fleet_migrate_creates_then_reports_already_at_head(empty_centre):
    first = healerd_process(
        "fleet", "migrate", "--url", empty_centre.url, "--password-file", empty_centre.password_file
    )
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to f002" in first.stdout
    again = healerd(
        "fleet", "migrate", "--url", empty_centre.url, env={"HEALERD_FLEET_PASSWORD_FILE": empty_centre.password_file}
    )
    assert again.returncode == 0 and "already at revision f002" in again.stdout


def test_a_password_in_the_url_or_a_writable_password_file_is_refused(centre, tmp_path):
    url_with_password = centre.url.replace("postgres@", "postgres:secret@")
    out = healerd("fleet", "hosts", "--url", url_with_password)
    assert out.returncode == 1 and "password_file" in out.stderr
    loose = tmp_path / "pw"
    loose.write_text("x\n")
    os.chmod(loose, 0o666)
    out = healerd("fleet", "hosts", "--url", centre.url, "--password-file", str(loose))
    assert out.returncode == 1 and "group or others can write" in out.stderr


def test_unreachable_centre_is_one_line_not_a_traceback(tmp_path, centre):
    import pgcluster

    url = f"postgresql+psycopg://postgres@127.0.0.1:{pgcluster.free_port()}/x"
    out = healerd("fleet", "status", "--url", url, "--password-file", centre.password_file)
    assert out.returncode == 1
    assert out.stderr.startswith("healerd: cannot reach the fleet centre") and "Traceback" not in out.stderr


async def test_hosts_report_and_status_read_what_hosts_shipped(db_path, centre):
    conn = local(db_path)
    web = add_component(conn, "web")
    add_results(conn, web, 3, status="unhealthy")
    set_breaker(conn, web, "open")
    conn.close()
    rt = FakeRuntime(db_path, fleet_settings(centre, host="alpha", guard=False), components=("web",))
    await rt.writer.start()
    shipper = rt.shipper()
    await asyncio.to_thread(shipper._round)
    shipper._engine.dispose()
    await rt.writer.stop()
    pw = ["--url", centre.url, "--password-file", centre.password_file]

    hosts = json.loads(healerd("fleet", "hosts", *pw, "--format", "json").stdout)
    assert [(h["host"], h["components"], h["breakers_not_closed"]) for h in hosts] == [("alpha", 1, 1)]
    rows = json.loads(healerd("fleet", "report", "current_system_status", *pw, "--format", "json").stdout)
    assert [(r["host"], r["component"], r["status"], r["breaker_state"]) for r in rows] == [
        ("alpha", "web", "unhealthy", "open")
    ]
    csv_out = healerd("fleet", "report", "fleet_current_status", *pw, "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("component,hosts,healthy") and csv_out[1].startswith("web,1,0,0,1")
    table = healerd("fleet", "status", *pw)
    assert table.returncode == 0, table.stderr
    assert "hosts    1 shipping" in table.stdout and "alpha" in table.stdout
    listed = healerd("fleet", "report", "--list", *pw).stdout
    assert "fleet_open_incidents" in listed and "recovery_mttr" in listed
    missing = healerd("fleet", "report", "nope", *pw)
    assert missing.returncode == 1 and "no fleet view named 'nope'" in missing.stderr


def test_on_a_configured_host_the_centre_comes_from_fleet_settings(centre, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    os.chmod(etc, 0o755)
    settings = etc / "healerd.toml"
    settings.write_text(f'[fleet]\nurl = "{centre.url}"\npassword_file = "{centre.password_file}"\n')
    os.chmod(settings, 0o644)
    out = healerd("fleet", "hosts", "--config", str(etc), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    bare = tmp_path / "bare"
    bare.mkdir()
    os.chmod(bare, 0o755)
    (bare / "healerd.toml").write_text("[daemon]\n")
    os.chmod(bare / "healerd.toml", 0o644)
    out = healerd("fleet", "hosts", "--config", str(bare))
    assert out.returncode == 2 and "give --url" in out.stderr
