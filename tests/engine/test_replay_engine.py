"""The replay's pure core on hand-made streams (instant: no daemon, no database)."""

from __future__ import annotations

import random

from daemon.clock import FakeClock
from daemon.config.models import Breaker, HealerdConfig
from daemon.engine.breaker import CircuitBreaker, _is_failure_code
from daemon.engine.replay import Replay
from daemon.engine.replay_outcomes import Outcomes, RecordedAction

T0 = 1_800_000_000.0


def config(attempts: int = 2) -> HealerdConfig:
    return HealerdConfig.model_validate(
        {
            "settings": {"notify": {"ops": {"kind": "log"}}},
            "components": {
                "app": {
                    "name": "app",
                    "check": {"kind": "tcp", "port": 9, "every": "10s"},
                    "breaker": {"consecutive_failures": 3, "open_for": "30s"},
                    "recovery": [
                        {
                            "strategy": "retry",
                            "attempts": attempts,
                            "within": "10m",
                            "verify_within": "20s",
                            "action": {"run": ["true"]},
                            "backoff": {"initial": "10s", "max": "10s", "jitter": "none"},
                        },
                        {"strategy": "escalate", "notify": ["ops"], "repeat_every": "1h"},
                    ],
                }
            },
        }
    )


def outage(minutes: float, before: int = 3, after: int = 60) -> list[tuple]:
    rows, t = [], T0
    for _ in range(before):
        rows.append(("app", t, "healthy", None, 0))
        t += 10
    for _ in range(int(minutes * 6)):
        rows.append(("app", t, "unhealthy", "refused", 0))
        t += 10
    for _ in range(after):
        rows.append(("app", t, "healthy", None, 0))
        t += 10
    return rows


def test_the_window_failure_count_always_equals_a_recount_of_the_window():
    rng = random.Random(7)
    breaker = CircuitBreaker(Breaker(consecutive_failures=50, window=7, min_checks=5, failure_rate=0.9), FakeClock())
    for _ in range(2000):
        breaker.feed(rng.choice(["healthy", "degraded", "unhealthy", "unknown"]), rng.choice([None, "refused"]))
        assert breaker._window_failures == sum(map(_is_failure_code, breaker.recent))
        if rng.random() < 0.01:
            breaker.reset()


def test_an_outage_with_nothing_recorded_is_estimated_failed_and_escalates_after_the_budget():
    result = Replay(config(), Outcomes([])).run(outage(5))
    (inc,) = result.incidents["app"]
    assert [a.strategy for a in inc.actions] == ["retry", "retry"]
    assert all(a.basis == "estimated" and not a.succeeded and "counted as failed" in a.rule for a in inc.actions)
    assert [kind for _, kind, _ in inc.escalations] == ["initial", "resolved"]
    assert inc.breaker_opened_at == T0 + 30 + 20  # the third failure
    assert result.synthetic["app"] == 0


def test_assume_healed_ends_the_outage_at_the_first_action_with_the_rest_replayed_as_healthy():
    result = Replay(config(), Outcomes([], assume="healed", fast_every=1.0)).run(outage(5))
    (inc,) = result.incidents["app"]
    assert [(a.basis, a.succeeded) for a in inc.actions] == [("assumed", True)]
    assert inc.escalations == []
    assert result.synthetic["app"] > 20  # the rest of the recorded outage
    assert inc.closed_at is not None and inc.closed_at < T0 + 30 + 60


def test_a_recorded_action_at_the_same_moment_gives_its_recorded_outcome_and_end():
    opened = T0 + 50
    recorded = [RecordedAction("app", "retry", 0, opened + 0.2, opened + 4.0, "succeeded", "refused")]
    result = Replay(config(), Outcomes(recorded, tolerance={"app": 10.0})).run(outage(5))
    (inc,) = result.incidents["app"]
    (action,) = inc.actions[:1]
    assert (action.basis, action.succeeded, action.finished_at) == ("recorded", True, opened + 4.0)


def test_estimates_prefer_the_same_error_class_and_say_so():
    recorded = [
        RecordedAction("app", "retry", 0, T0 - 9000 + i, T0 - 8990 + i, status, error)
        for i, (status, error) in enumerate(
            [("succeeded", "refused"), ("failed", "timeout"), ("failed", "timeout"), ("succeeded", "refused")]
        )
    ]
    outcomes = Outcomes(recorded)
    guess = outcomes.guess("app", "retry", 0, "refused", T0, 20.0)
    assert guess.succeeded and guess.basis == "estimated" and "2/2" in guess.rule and "refused" in guess.rule
    guess = outcomes.guess("app", "retry", 0, "timeout", T0, 20.0)
    assert not guess.succeeded and "0/2" in guess.rule
    guess = outcomes.guess("app", "retry", 0, "dns", T0, 20.0)
    assert guess.succeeded and "2/4" in guess.rule and "any error class" in guess.rule
