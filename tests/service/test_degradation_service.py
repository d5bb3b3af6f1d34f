"""DegradationService wired to a real Monitor, writer and migrated database, on a FakeClock.

The decision rules themselves are pinned exhaustively in tests/engine/test_degradation_*.py; these
tests pin what the service adds: every change recorded with its reason, flags and state.json following
the level, snapshots downsampled, overrides applied through operator commands and expiring by
themselves, restarts carrying the tracker over, on_change run with the levels in its environment, and
nothing stopping the daemon when the state file cannot be written.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys

import pytest
import structlog
from degradation_kit import POLICY, SETTINGS, until

from daemon.types import Status

H, U = Status.HEALTHY, Status.UNHEALTHY


async def test_a_component_going_down_drops_the_level_at_once_with_its_reason_flags_and_state_file(harness, clock):
    h = harness()
    await h.start()
    await h.observe(a=H, b=H)
    assert h.published()["level"] == "full" and h.published()["flags"] == {"extras": True, "checkout": True}

    await h.observe(b=U)
    await h.settled()

    doc = h.published()
    assert (doc["level"], doc["score"], doc["unknown"]) == ("minimal", 50.0, 0)
    assert doc["flags"] == {"extras": False, "checkout": False}
    assert h.rows("SELECT from_level, to_level, score, reason FROM degradation_history") == [
        ("full", "minimal", 50.0, "score 50.0 < 70 (minimal)")
    ]
    assert dict(h.rows("SELECT name, reason FROM feature_flag_state WHERE enabled = 0")) == {
        "extras": "level minimal ≥ off_at reduced",
        "checkout": "component b unhealthy",
    }
    assert h.rows("SELECT level, computed_level, score, disabled_flags FROM active_degradation") == [
        ("minimal", "minimal", 50.0, "checkout,extras")
    ]


async def test_a_score_flapping_around_a_threshold_changes_the_level_once_down_and_once_up_after_the_hold(
    harness, clock
):
    h = harness()
    svc = await h.start()
    for i in range(8):  # b flaps every 10 s (too few checks to trip its breaker): never healthy for 60 s
        await h.observe(a=H, b=U if i % 2 == 0 else H)
        clock.advance(10)
    assert svc.tracker.level.value == "minimal"
    for _ in range(7):  # then steady: 60 s of clearing the bar
        await h.observe(a=H, b=H)
        clock.advance(10)
    await h.settled()

    history = h.rows("SELECT from_level, to_level, reason FROM degradation_history ORDER BY id")
    assert [(f, t) for f, t, _ in history] == [("full", "minimal"), ("minimal", "full")]
    assert history[1][2] == "score 100.0 ≥ 95 for 60s (full)"
    assert h.published()["level"] == "full"
    assert h.rows("SELECT enabled FROM feature_flag_state WHERE name = 'extras'") == [(1,)]


async def test_health_snapshots_are_downsampled_to_snapshot_every_and_feed_the_trend(harness, clock):
    h = harness()
    svc = await h.start()  # the first evaluation takes a snapshot (nothing known yet: score NULL)
    for step in range(13):  # 130 s of evaluations every 10 s; b goes down after a minute and stays down
        clock.advance(10)
        await h.observe(a=H, b=H if step < 6 else U)
    await h.settled()

    snapshots = h.rows("SELECT ts, score, level FROM health_snapshots ORDER BY id")
    assert len(snapshots) == 3  # start, +60 s, +120 s: one a minute, not one per evaluation
    assert [round(b[0] - a[0]) for a, b in itertools.pairwise(snapshots)] == [60, 60]
    assert [s for _, s, _ in snapshots] == [None, 100.0, 50.0]
    assert h.published()["trend"] == "stable"  # two defined points are too few to call a trend
    for _ in range(6):
        clock.advance(10)
        await h.observe(a=H, b=U)
    assert svc.trend.trend.value == "declining" and h.published()["trend"] == "declining"


async def test_an_override_command_is_applied_recorded_published_and_expires_by_itself(harness, clock):
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=H)

    command = h.enqueue("degrade_set", {"level": "emergency", "for": "30m", "reason": "db migration"})
    assert await h.runtime.commands.poll_once() == 1
    await h.settled()
    status, outcome = h.rows("SELECT status, outcome FROM operator_commands WHERE id = ?", (command,))[0]
    assert status == "applied" and outcome.startswith("override emergency until ")
    assert outcome.endswith("(db migration); level full → emergency")
    doc = h.published()
    assert doc["level"] == "emergency" and doc["override"]["reason"] == "db migration"
    assert doc["flags"] == {"extras": False, "checkout": False}
    assert h.rows("SELECT level, computed_level, override_active FROM active_degradation") == [("emergency", "full", 1)]

    clock.advance(30 * 60 - 1)
    await svc.evaluate()
    assert h.published()["level"] == "emergency"
    clock.advance(1)
    await svc.evaluate()
    await h.settled()
    assert h.published()["level"] == "full" and h.published()["override"] is None
    reasons = [r for (r,) in h.rows("SELECT reason FROM degradation_history ORDER BY id")]
    assert reasons[0].startswith("override emergency until") and reasons[0].endswith(": db migration")
    assert reasons[1].startswith("override emergency expired at") and "computed level full" in reasons[1]


async def test_invalid_override_commands_are_rejected_and_change_nothing(harness, clock):
    h = harness()
    svc = await h.start()
    bad_level = h.enqueue("degrade_set", {"level": "panic", "for": "1h", "reason": "x"})
    no_duration = h.enqueue("degrade_set", {"level": "minimal", "reason": "x"})
    clear_nothing = h.enqueue("degrade_clear", {})
    await h.runtime.commands.poll_once()
    await h.settled()
    rows = {i: (s, o) for i, s, o in h.rows("SELECT id, status, outcome FROM operator_commands")}
    assert rows[bad_level][0] == "rejected" and "unknown level 'panic'" in rows[bad_level][1]
    assert rows[no_duration][0] == "rejected" and "--for" in rows[no_duration][1]
    assert rows[clear_nothing] == ("applied", "no override was set; level full")
    assert svc.tracker.override is None
    assert h.rows("SELECT count(*) FROM degradation_history") == [(0,)]


async def test_level_override_and_pending_recovery_survive_a_restart(harness, clock):
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=U)  # minimal
    for _ in range(5):  # healthy from here on, checked every 10 s: clearing full's bar for 40 s
        await h.observe(a=H, b=H)
        clock.advance(10)
    h.enqueue("degrade_set", {"level": "reduced", "for": "10m", "reason": "maintenance"})
    await h.runtime.commands.poll_once()
    await h.stop()

    clock.advance(5)  # down for 5 s: not credited to the hold
    svc = await h.start()  # the last stored results (15 s old) are fresh enough to score on
    assert svc.tracker.level.value == "reduced" and svc.tracker.override.reason == "maintenance"
    assert svc.tracker.computed.value == "minimal"
    assert h.published()["level"] == "reduced" and h.published()["score"] == 100.0
    clock.advance(9)
    await h.observe(a=H, b=H)
    assert svc.tracker.computed.value == "minimal"  # 50 s before the stop + 9 s after: short of 60 s
    clock.advance(1)
    await svc.evaluate()
    assert svc.tracker.computed.value == "full" and svc.tracker.level.value == "reduced"


async def test_on_change_runs_once_per_level_change_with_the_levels_in_its_environment(harness, clock, tmp_path):
    out = tmp_path / "changes.jsonl"
    script = (
        "import json, os, sys; keys = ['HEALERD_OLD_LEVEL', 'HEALERD_NEW_LEVEL', 'HEALERD_SCORE', 'HEALERD_REASON'];"
        f"open({str(out)!r}, 'a').write(json.dumps({{k: os.environ[k] for k in keys}}) + '\\n')"
    )
    argv = json.dumps([sys.executable, "-c", script])
    settings = SETTINGS.replace("[degradation]\n", f'[degradation]\non_change = {{ run = {argv}, timeout = "10s" }}\n')
    h = harness(settings=settings)
    await h.start()
    await h.observe(a=H, b=U)
    await h.observe(a=U)

    def lines():
        return [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []

    await until(lambda: len(lines()) == 2)
    assert lines() == [
        {
            "HEALERD_OLD_LEVEL": "full",
            "HEALERD_NEW_LEVEL": "minimal",
            "HEALERD_SCORE": "50",
            "HEALERD_REASON": "score 50.0 < 70 (minimal)",
        },
        {
            "HEALERD_OLD_LEVEL": "minimal",
            "HEALERD_NEW_LEVEL": "emergency",
            "HEALERD_SCORE": "0",
            "HEALERD_REASON": "score 0.0 < 40 (emergency)",
        },
    ]


async def test_a_status_change_wakes_the_loop_without_waiting_for_the_tick(harness, clock):
    h = harness()
    svc = await h.start()
    h.result("a", H)
    h.result("b", H)
    await until(lambda: h.published()["score"] == 100.0)
    h.result("b", U)  # no explicit evaluate: the result listener pokes the loop
    await until(lambda: h.published()["level"] == "minimal", timeout=EVALUATE_BOUND)
    assert svc.tracker.level.value == "minimal"


#: The loop's own tick is 1 s; a poke is answered after the 50 ms debounce. Generous for a slow CI box,
#: and the assertion is about being woken at all, not about speed.
EVALUATE_BOUND = 5.0


async def test_an_unwritable_state_file_is_logged_once_and_degradation_carries_on(harness, clock, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    h = harness()
    with structlog.testing.capture_logs() as logs:
        await h.start(env={"RUNTIME_DIRECTORY": str(blocker / "run")})
        await h.observe(a=H, b=U)
        await h.observe(a=U)
        await h.settled()
    errors = [e for e in logs if e["event"].startswith("cannot publish the degradation state file")]
    assert len(errors) == 1 and str(blocker) in errors[0]["path"]
    assert [t for (t,) in h.rows("SELECT to_level FROM degradation_history ORDER BY id")] == ["minimal", "emergency"]
    # nothing else is due, yet the file is tried again within a second, not at the next stale instant
    assert h.service._next_timeout() <= 1.0


async def test_a_reload_that_removes_a_flag_deletes_its_row(harness, clock):
    h = harness()
    svc = await h.start()
    await h.settled()
    assert {n for (n,) in h.rows("SELECT name FROM feature_flag_state")} == {"extras", "checkout"}
    config = h.runtime.config
    degradation = config.settings.degradation.model_copy(update={"flag": config.settings.degradation.flag[:1]})
    settings = config.settings.model_copy(update={"degradation": degradation})
    h.runtime.loaded = dataclasses.replace(h.runtime.loaded, config=config.model_copy(update={"settings": settings}))
    await svc.evaluate()
    await h.settled()
    assert h.rows("SELECT name FROM feature_flag_state") == [("extras",)]
    assert set(h.published()["flags"]) == {"extras"}


def test_policy_fixture_has_two_equal_components():
    # The arithmetic in these tests (50 = one of two down) relies on it.
    assert POLICY.count("[[component]]") == 2 and "weight" not in POLICY


async def test_an_http_on_change_posts_the_change_as_json(harness, clock):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        hook = f'on_change = {{ http = {{ url = "{url}" }}, timeout = "5s" }}'
        h = harness(settings=SETTINGS.replace("[degradation]\n", f"[degradation]\n{hook}\n"))
        await h.start()
        await h.observe(a=U, b=U)
        await until(lambda: received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert len(received) == 1
    assert {k: received[0][k] for k in ("old_level", "new_level", "score", "reason")} == {
        "old_level": "full",
        "new_level": "emergency",
        "score": 0.0,
        "reason": "score 0.0 < 40 (emergency)",
    }


async def test_a_quiet_fleet_is_scored_again_when_a_result_may_first_turn_stale_not_every_second(harness, clock):
    """Issue 11: scoring every component once a second cost more CPU than the checks themselves."""
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=H)  # both checked every 10 s; a result is stale after 3 × 10 s
    clock.advance(12)
    await h.observe(a=H)  # b's result is now 12 s old: it may turn stale 18 s from now, no sooner
    assert svc._next_timeout() == pytest.approx(18.0)

    clock.advance(18.5)
    await svc.evaluate()
    assert {c.name: c.condition.value for c in svc.score.components}["b"] == "stale"


async def test_while_a_better_level_is_held_the_score_is_evaluated_every_second(harness, clock):
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=U)
    assert svc.tracker.level.value == "minimal"
    await h.observe(b=H)  # the score is back to 100, held for 60 s before the level follows
    assert svc.tracker.pending_recovery() is not None
    assert svc._next_timeout() == pytest.approx(1.0)


async def test_fresh_results_since_the_last_scoring_move_the_next_wake_up_and_anything_else_scores_again(
    harness, clock
):
    """Issue 11: the wake-up is set for the first instant a result *might* turn stale; with checks coming
    in, by then it has not, and scoring every component again changed nothing but cost CPU."""
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=H)  # checked every 10 s: stale after 30 s
    t0 = clock.wall()
    assert svc._due_at == pytest.approx(t0 + 30)
    clock.advance(20)
    h.result("a", H)
    h.result("b", H)  # same status as before: nothing pokes the loop
    clock.advance(11)  # past t0 + 30
    assert svc._quiet_until(clock.wall()) == pytest.approx(t0 + 50)  # the new results' stale instant

    clock.advance(20)  # t0 + 51: both results are stale now
    assert svc._quiet_until(clock.wall()) is None
    await svc.evaluate()
    assert {c.condition.value for c in svc.score.components} == {"stale"}
    h.result("a", H)  # a is known again; nothing pokes the loop (its status did not change)
    assert svc._quiet_until(clock.wall()) is None

    await h.observe(a=H, b=H)
    h.result("b", U)  # a status the last scoring did not see
    assert svc._quiet_until(clock.wall()) is None


async def test_a_timed_wake_up_with_nothing_changed_does_not_score_and_one_after_a_result_turned_stale_does(
    harness, clock, monkeypatch
):
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=H)
    scored = []
    quiet_checks = []
    evaluate, quiet_until = svc.evaluate, svc._quiet_until

    async def counting_evaluate(*args, **kwargs):
        scored.append(clock.wall())
        return await evaluate(*args, **kwargs)

    def counting_quiet(now):
        quiet_checks.append(now)
        return quiet_until(now)

    monkeypatch.setattr(svc, "evaluate", counting_evaluate)
    monkeypatch.setattr(svc, "_quiet_until", counting_quiet)
    monkeypatch.setattr(svc, "_next_timeout", lambda: 0.01)  # timed wake-ups every 10 ms of real time
    svc.poke()  # the loop is asleep on its old timeout: one scoring, then the short ones apply
    await until(lambda: len(scored) == 1 and len(quiet_checks) >= 20)
    assert len(scored) == 1  # twenty timed wake-ups, nothing changed: no scoring pass

    clock.advance(31)  # both results are now stale: the next timed wake-up scores
    await until(lambda: len(scored) >= 2)
    await until(lambda: {c.condition.value for c in svc.score.components} == {"stale"})


async def test_a_failing_wake_up_check_is_logged_and_the_loop_scores_and_goes_on(harness, clock, monkeypatch):
    h = harness()
    svc = await h.start()
    await h.observe(a=H, b=H)
    scored = []
    evaluate = svc.evaluate

    async def counting_evaluate(*args, **kwargs):
        scored.append(clock.wall())
        return await evaluate(*args, **kwargs)

    def broken(now):
        raise RuntimeError("a bug in the wake-up check")

    monkeypatch.setattr(svc, "evaluate", counting_evaluate)
    monkeypatch.setattr(svc, "_quiet_until", broken)
    monkeypatch.setattr(svc, "_next_timeout", lambda: 0.01)
    svc.poke()
    await until(lambda: len(scored) >= 5)  # every timed wake-up scores, and the loop keeps running
    assert not any(t.done() for t in svc._tasks)
