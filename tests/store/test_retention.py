"""Retention prunes what is past its age in small batches through the writer, and keeps the rest."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs
from writer_kit import insert_transition, result, scalar

from daemon.clock import FakeClock
from daemon.config.durations import parse_duration
from daemon.config.models import Retention
from daemon.store.retention import RULES, Rule, prune
from daemon.store.writer import Writer

DAY = 86_400.0
NOW = 1_800_000_000.0 + 1_234.5  # not on an hour boundary, so the rollup cut is exercised
CLOCK = FakeClock(wall=NOW)


@pytest.fixture
async def writer(db_path):
    w = Writer(db_path)
    await w.start()
    yield w
    await w.stop()


@pytest.fixture
def comp(seed):
    return seed.component("api")


def old_results(seed, component_id: int, n: int, age: float) -> None:
    seed.conn.execute("BEGIN")
    seed.conn.executemany(
        "INSERT INTO check_results (component_id, ts, status, latency_ms) VALUES (?, ?, 'healthy', 1.0)",
        [(component_id, NOW - age - i * 0.001) for i in range(n)],
    )
    seed.conn.execute("COMMIT")


async def test_raw_results_older_than_raw_retention_go_and_recent_ones_stay(db_path, seed, comp, writer):
    old_results(seed, comp, 30, age=7 * DAY + 60)
    old_results(seed, comp, 20, age=7 * DAY - 60)
    deleted = await prune(writer, Retention(), clock=CLOCK)
    assert deleted["check_results"] == 30
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 20
    assert scalar(db_path, "SELECT min(ts) FROM check_results") > NOW - 7 * DAY


async def test_a_rollup_hour_goes_only_once_all_of_it_is_past_rollup_retention(db_path, seed, comp, writer):
    cutoff = NOW - 400 * DAY
    cut_hour = int(cutoff // 3600) * 3600  # the hour containing the cutoff: partly still retained
    for hour in (cut_hour - 7200, cut_hour - 3600, cut_hour, cut_hour + 3600):
        seed.insert("result_rollups_hourly", hour=hour, component_id=comp, total=1, healthy=1)
    deleted = await prune(writer, Retention(), clock=CLOCK)
    assert deleted["result_rollups_hourly"] == 2
    remaining = [h for (h,) in seed.conn.execute("SELECT hour FROM result_rollups_hourly ORDER BY hour")]
    assert remaining == [cut_hour, cut_hour + 3600]


async def test_history_past_retention_goes_but_unfinished_rows_stay_whatever_their_age(db_path, seed, comp, writer):
    old, recent = NOW - 401 * DAY, NOW - 399 * DAY
    seed.transition(comp, old, "closed", "open")
    seed.transition(comp, recent, "open", "half_open")
    incident = seed.incident(comp, ago=NOW - old)
    seed.recovery(incident, comp, ago=NOW - old, status="succeeded")
    seed.recovery(incident, comp, ago=NOW - old, status="started")  # intent without outcome
    seed.insert(
        "escalations",
        incident_id=incident,
        component_id=comp,
        channel="mail",
        kind="initial",
        created_at=old,
        status="delivered",
    )
    seed.insert(
        "escalations",
        incident_id=incident,
        component_id=comp,
        channel="mail",
        kind="reminder",
        created_at=old,
        status="pending",
    )
    seed.insert("operator_commands", created_at=old, command="breaker reset", status="applied")
    seed.insert("operator_commands", created_at=old, command="breaker open", status="pending")
    seed.insert("config_errors", ts=old, path="a.toml", message="bad", resolved_at=old + 1)
    seed.insert("config_errors", ts=old, path="b.toml", message="still bad")
    seed.insert("degradation_history", ts=old, to_level="reduced", reason="score")
    seed.insert("health_snapshots", ts=NOW - 31 * DAY, level="full")
    seed.insert("health_snapshots", ts=NOW - 29 * DAY, level="full")

    deleted = await prune(writer, Retention(), clock=CLOCK)

    assert {t: n for t, n in deleted.items() if n} == {
        "escalations": 1,
        "operator_commands": 1,
        "config_errors": 1,
        "health_snapshots": 1,
    }
    assert scalar(db_path, "SELECT status FROM escalations") == "pending"
    assert scalar(db_path, "SELECT status FROM operator_commands") == "pending"
    assert scalar(db_path, "SELECT path FROM config_errors") == "b.toml"
    assert scalar(db_path, "SELECT count(*) FROM incidents") == 1  # incidents are not pruned
    assert scalar(db_path, "SELECT count(*) FROM health_snapshots") == 1


async def test_append_only_history_of_an_open_incident_is_left_alone_whatever_its_age(db_path, seed, comp, writer):
    """History rows of an incident still open stay (issue 11 prunes the rest); degradation_history is never pruned."""
    ancient = NOW - 1_000 * DAY
    seed.transition(comp, ancient, "closed", "open")
    incident = seed.incident(comp, ago=NOW - ancient)  # still open
    seed.recovery(incident, comp, ago=NOW - ancient, status="succeeded")
    seed.insert("degradation_history", ts=ancient, to_level="reduced", reason="score")
    seed.insert("decisions", incident_id=incident, component_id=comp, ts=ancient, kind="run_step", reason="open")
    with capture_logs() as logs:
        await prune(writer, Retention(), clock=CLOCK)
    for table in ("breaker_transitions", "recovery_events", "degradation_history", "decisions"):
        assert scalar(db_path, f"SELECT count(*) FROM {table}") == 1, table
    assert not [e for e in logs if e["log_level"] == "error"]


async def test_retention_settings_are_honoured(db_path, seed, comp, writer):
    old_results(seed, comp, 10, age=2 * DAY)
    old_results(seed, comp, 5, age=0.5 * DAY)
    retention = Retention(raw_results=parse_duration("1d"))
    assert (await prune(writer, retention, clock=CLOCK))["check_results"] == 10
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 5


async def test_ages_count_from_an_explicit_now_when_given(db_path, seed, comp, writer):
    old_results(seed, comp, 4, age=3 * DAY)
    retention = Retention(raw_results=parse_duration("7d"))
    assert (await prune(writer, retention, now=NOW + 5 * DAY))["check_results"] == 4


async def test_each_transaction_deletes_at_most_one_batch(db_path, seed, comp, writer):
    old_results(seed, comp, 2_550, age=8 * DAY)
    per_call: list[int] = []
    submit = writer.submit

    def spying_submit(fn):
        future = submit(fn)
        future.add_done_callback(lambda f: per_call.append(f.result()))
        return future

    writer.submit = spying_submit  # type: ignore[method-assign]
    deleted = await prune(writer, Retention(), clock=CLOCK, batch=100, rules=(RULES[0],))
    assert deleted == {"check_results": 2_550}
    assert max(per_call) == 100 and len(per_call) == 26  # 25 full batches, then 50 and done
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 0


async def test_writes_keep_committing_while_a_large_prune_runs(db_path, seed, comp, writer):
    old_results(seed, comp, 20_000, age=8 * DAY)
    done_during_prune = 0
    pruning = asyncio.ensure_future(prune(writer, Retention(), clock=CLOCK, batch=100, rules=(RULES[0],)))

    async def breaker_writes() -> None:
        nonlocal done_during_prune
        while not pruning.done():
            writer.submit_result(result("api", ts=NOW))
            await writer.submit(insert_transition(comp, "flap"))
            if not pruning.done():
                done_during_prune += 1

    await asyncio.wait_for(asyncio.gather(pruning, breaker_writes()), 60)
    assert pruning.result() == {"check_results": 20_000}
    # Writes were not held back until the prune finished: they were committed between its batches.
    assert done_during_prune >= 10
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") >= done_during_prune


async def test_every_rule_runs_cleanly_on_the_migrated_schema(db_path, writer):
    with capture_logs() as logs:
        deleted = await prune(writer, Retention(), clock=CLOCK)
    assert set(deleted) == {r.table for r in RULES}
    assert not [e for e in logs if e["log_level"] in ("error", "warning")]


async def test_a_failing_rule_is_logged_and_the_others_still_run(db_path, seed, comp, writer):
    old_results(seed, comp, 3, age=8 * DAY)
    broken = Rule("no_such_table", "ts", "history")
    with capture_logs() as logs:
        deleted = await prune(writer, Retention(), clock=CLOCK, rules=(broken, RULES[0]))
    assert deleted == {"no_such_table": 0, "check_results": 3}
    assert [e["table"] for e in logs if e["event"] == "retention.rule_failed"] == ["no_such_table"]
