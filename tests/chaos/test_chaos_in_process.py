"""Scheduled experiments: one APScheduler cron job each, following reloads, starting runs marked `schedule`.

In-process (the job table is not visible from outside a daemon process); the daemon is the real one,
on a real migrated database, with a real exec check.
"""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from daemon_fixtures_for_chaos import write_file
from helpers import async_wait_until, open_db

from daemon.service.daemon import Daemon, DaemonOptions

POLICY = """
[[component]]
name = "app"
[component.check]
kind = "exec"
run = ["true"]
every = "200ms"
timeout = "150ms"
[component.breaker]
consecutive_failures = 50  # a short outage must not open it: this test is about the schedule
"""


def experiment(schedule: str | None) -> str:
    line = f'schedule = "{schedule}"' if schedule else ""
    return f"""
[experiment]
name = "nightly"
target = "app"
fault = {{ kind = "unavailable" }}
duration = "500ms"
steady_state = {{ min_score = 50 }}
{line}
"""


until = async_wait_until  # the suite-wide helper, under the name these tests use


def next_fire(cron: str) -> datetime:
    return CronTrigger.from_crontab(cron, timezone="UTC").get_next_fire_time(None, datetime.now(UTC))


async def test_a_schedule_is_a_cron_job_that_follows_reloads_and_starts_a_scheduled_run(config_dir, db_path):
    config_dir.settings("[daemon]\nwatch_config = false\n")
    config_dir.policy("app.toml", POLICY)
    exp_file = write_file(config_dir.root / "experiments.d" / "nightly.toml", experiment("0 3 * * 1"))
    daemon = Daemon(DaemonOptions(config_dir.root, db_path, env={}, watch_config=False))
    await daemon.start()
    try:
        runtime = daemon.runtime
        assert runtime.chaos.next_run_time("nightly") == next_fire("0 3 * * 1")

        exp_file.write_text(experiment("30 4 * * *"))
        assert await runtime.reload()
        assert runtime.chaos.next_run_time("nightly") == next_fire("30 4 * * *")

        job = runtime.scheduler._scheduler.get_job("chaos:nightly")
        job.modify(next_run_time=datetime.now(UTC))  # "it is 04:30 now"

        def finished():
            with open_db(db_path) as conn:
                return conn.execute("SELECT trigger, verdict FROM chaos_runs WHERE verdict != 'running'").fetchall()

        ((trigger, verdict),) = await until(finished)
        assert (trigger, verdict) == ("schedule", "passed")
        with open_db(db_path) as conn:
            assert conn.execute("SELECT count(*) FROM check_results WHERE injected = 1").fetchone()[0] >= 1

        exp_file.write_text(experiment(None))
        assert await runtime.reload()
        assert runtime.chaos.next_run_time("nightly") is None
    finally:
        await daemon.stop()


async def test_the_concurrency_limit_refuses_a_second_target_and_frees_its_slot_when_the_run_ends(config_dir, db_path):
    config_dir.settings("[daemon]\nwatch_config = false\nmax_concurrent_experiments = 1\n")
    config_dir.policy("app.toml", POLICY + POLICY.replace('name = "app"', 'name = "other"'))
    for name, target in (("first", "app"), ("second", "other")):
        write_file(
            config_dir.root / "experiments.d" / f"{name}.toml",
            experiment(None)
            .replace('"nightly"', f'"{name}"')
            .replace('target = "app"', f'target = "{target}"')
            .replace('duration = "500ms"', 'duration = "60s"'),
        )
    daemon = Daemon(DaemonOptions(config_dir.root, db_path, env={}, watch_config=False))
    await daemon.start()
    try:
        chaos = daemon.runtime.chaos
        first = await chaos.start_run("first", trigger="manual")
        second = await chaos.start_run("second", trigger="manual")
        await chaos.tasks[second]
        with open_db(db_path) as conn:
            verdict, reason = conn.execute("SELECT verdict, reason FROM chaos_runs WHERE id = ?", (second,)).fetchone()
        assert verdict == "refused"
        assert reason == "1 experiment(s) running, the limit is 1 (daemon.max_concurrent_experiments): first (run 1)"
        assert list(chaos.active) == [first]
    finally:
        await daemon.stop()  # the running one is reverted and recorded as interrupted
    assert daemon.runtime.chaos.active == {} and daemon.runtime.monitor.injectors == {}
    with open_db(db_path) as conn:
        assert conn.execute("SELECT verdict FROM chaos_runs WHERE id = ?", (first,)).fetchone() == ("interrupted",)
