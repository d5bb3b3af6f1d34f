"""A half-open breaker is probed on the fast cadence, not at the component's own interval."""

from __future__ import annotations

from helpers import wait_until


def test_half_open_probes_run_at_fast_every_so_the_breaker_closes_without_waiting_intervals(
    config_dir, start_daemon, listener, free_port
):
    port = free_port()
    config_dir.settings('[daemon]\nfast_every = "200ms"\nwatch_config = false\n')
    config_dir.policy(
        "a.toml",
        f"""
    [[component]]
    name = "a"
    [component.check]
    kind = "tcp"
    port = {port}
    every = "5s"
    timeout = "1s"
    [component.breaker]
    consecutive_failures = 1
    open_for = "500ms"
    half_open_successes = 3
    """,
    )
    d = start_daemon(config_dir)
    wait_until(lambda: d.query("SELECT state FROM breakers") == [("open",)], 30)
    listener(port)  # the service comes back
    wait_until(lambda: d.query("SELECT state FROM breakers") == [("closed",)], 60)

    half_open_at = d.query("SELECT max(ts) FROM breaker_transitions WHERE to_state = 'half_open'")[0][0]
    closed_at = d.query("SELECT max(ts) FROM breaker_transitions WHERE to_state = 'closed'")[0][0]
    probes = d.query(
        "SELECT ts FROM check_results WHERE ts >= ? AND ts <= ? AND status = 'healthy' ORDER BY ts",
        (half_open_at, closed_at),
    )
    assert len(probes) >= 3
    # at the component's own 5 s interval three probes would span ≥ 10 s
    assert probes[-1][0] - probes[0][0] < 5.0
    assert d.stop() == 0
