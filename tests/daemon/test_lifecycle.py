"""`healerd run` as systemd sees it: exit codes, sd_notify datagrams, reload, and a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys

from helpers import wait_until

from daemon.errors import EXIT_STARTUP_FAILURE


def tcp_component(name: str, port: int, every: str = "200ms", extra: str = "") -> str:
    return f"""
    [[component]]
    name = "{name}"
    [component.check]
    kind = "tcp"
    port = {port}
    every = "{every}"
    timeout = "150ms"
    [component.breaker]
    consecutive_failures = 2
    open_for = "60s"
    {extra}
    """


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=timeout)


def test_invalid_config_refuses_to_start_with_exit_3_and_names_the_file_and_key(config_dir, tmp_path):
    config_dir.policy(
        "bad.toml",
        """
    [[component]]
    name = "x"
    [component.check]
    kind = "tcp"
    port = 1
    timout = "1s"
    """,
    )
    proc = run_cli("run", "--config", str(config_dir.root), "--db", str(tmp_path / "h.db"))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert "bad.toml" in proc.stderr and "component[0].check.timout" in proc.stderr


def test_database_that_cannot_be_migrated_refuses_to_start_with_exit_3(config_dir, tmp_path):
    not_a_db = tmp_path / "h.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    proc = run_cli("run", "--config", str(config_dir.root), "--db", str(not_a_db))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert "cannot start" in proc.stderr and str(not_a_db) in proc.stderr
    assert not_a_db.read_bytes().startswith(b"this is not a database")  # left untouched


def test_second_daemon_on_the_same_database_refuses_to_start(config_dir, start_daemon, listener):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="5s"))
    first = start_daemon(config_dir)
    proc = run_cli("run", "--config", str(config_dir.root), "--db", str(first.db))
    assert proc.returncode == EXIT_STARTUP_FAILURE
    assert "already running" in proc.stderr and str(first.pid) in proc.stderr
    assert first.proc.poll() is None


def test_second_daemon_through_a_symlink_or_dotdot_path_to_the_same_database_refuses_to_start(
    config_dir, start_daemon, listener, tmp_path
):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="5s"))
    first = start_daemon(config_dir)
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(first.db)
    dotdot = first.db.parent / "elsewhere" / ".." / first.db.name
    for other in (link, dotdot):
        proc = run_cli("run", "--config", str(config_dir.root), "--db", str(other))
        assert proc.returncode == EXIT_STARTUP_FAILURE, (other, proc.stderr)
        assert "already running" in proc.stderr and str(first.pid) in proc.stderr
    assert first.proc.poll() is None


def test_notify_ready_status_reload_and_stopping_reach_systemd_in_order(config_dir, start_daemon, listener):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="5s"))
    d = start_daemon(config_dir)
    ready = d.notify.index_of("READY=1")
    assert any(line.startswith("STATUS=1 components") for line in d.notify.messages[ready])

    mark = len(d.notify.drain())
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.notify.index_of("READY=1", after=mark) is not None, 20)
    reloading = d.notify.index_of("RELOADING=1", after=mark)
    assert reloading is not None and reloading < d.notify.index_of("READY=1", after=reloading)
    assert any(line.startswith("MONOTONIC_USEC=") for line in d.notify.messages[reloading])

    assert d.stop() == 0
    assert d.notify.has("STOPPING=1")


def test_watchdog_pings_when_systemd_asks_for_them(config_dir, start_daemon, listener):
    config_dir.policy("a.toml", tcp_component("a", listener().port, every="5s"))
    d = start_daemon(config_dir, env={"WATCHDOG_USEC": "200000"})  # ping every 100 ms
    wait_until(lambda: sum(1 for m in d.notify.drain() if m == ["WATCHDOG=1"]) >= 3, 20)
    assert d.stop() == 0


def test_sigint_also_stops_cleanly_and_the_results_are_flushed(config_dir, start_daemon, listener):
    lst = listener()
    config_dir.policy("a.toml", tcp_component("a", lst.port))
    d = start_daemon(config_dir)
    wait_until(lambda: d.query("SELECT count(*) FROM check_results")[0][0] >= 3, 20)
    d.signal(signal.SIGINT)
    assert d.proc.wait(30) == 0
    assert d.query("PRAGMA integrity_check") == [("ok",)]


def test_bad_reload_keeps_the_last_good_file_in_force_and_records_the_error(
    config_dir, start_daemon, listener, free_port
):
    port_a, port_b = listener().port, listener().port
    config_dir.policy("a.toml", tcp_component("a", port_a))
    b_file = config_dir.policy("b.toml", tcp_component("b", port_b))
    d = start_daemon(config_dir)

    b_file.write_text(b_file.read_text().replace('kind = "tcp"', 'kind = "tcp"\nbogus = 1'))
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.query("SELECT path, key FROM config_errors WHERE resolved_at IS NULL"), 20)
    path, key = d.query("SELECT path, key FROM config_errors WHERE resolved_at IS NULL")[0]
    assert path.endswith("b.toml") and key == "component[0].check.bogus"

    # b is still checked with its last good definition, and the daemon is still up
    count = d.query(
        "SELECT count(*) FROM check_results r JOIN components c ON c.id = r.component_id WHERE c.name = 'b'"
    )[0][0]
    wait_until(
        lambda: (
            d.query(
                "SELECT count(*) FROM check_results r JOIN components c ON c.id = r.component_id WHERE c.name = 'b'"
            )[0][0]
            > count + 2
        ),
        20,
    )
    assert d.proc.poll() is None

    # fixed: the error is resolved, and a changed file (new port) is applied without a restart
    config_dir.policy("b.toml", tcp_component("b", free_port()))
    d.signal(signal.SIGHUP)
    wait_until(lambda: not d.query("SELECT 1 FROM config_errors WHERE resolved_at IS NULL"), 20)
    wait_until(
        lambda: (
            d.query(
                "SELECT error_class FROM check_results r JOIN components c ON c.id = r.component_id "
                "WHERE c.name = 'b' ORDER BY r.id DESC LIMIT 1"
            )
            == [("refused",)]
        ),
        20,
    )
    assert d.stop() == 0


def test_a_new_file_in_the_config_directory_is_picked_up_without_a_signal(config_dir, start_daemon, listener):
    config_dir.policy("a.toml", tcp_component("a", listener().port))
    d = start_daemon(config_dir)
    config_dir.policy("c.toml", tcp_component("c", listener().port))
    wait_until(
        lambda: (
            d.query(
                "SELECT count(*) FROM check_results r JOIN components c ON c.id = r.component_id WHERE c.name = 'c'"
            )[0][0]
            >= 1
        ),
        30,
    )
    # and a removed file stops its component's checks (the row stays, marked removed)
    (config_dir.root / "policies.d" / "c.toml").unlink()
    wait_until(lambda: d.query("SELECT removed_at IS NOT NULL FROM components WHERE name = 'c'") == [(1,)], 30)
    assert d.stop() == 0
