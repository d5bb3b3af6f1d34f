"""Advice when a chaos run misses a promise: in config terms, with the numbers that explain it."""

from __future__ import annotations

from dataclasses import replace

from chaos_kit import T0, experiment, facts

from daemon.engine.chaos import RunFacts, TargetFacts, recommendations
from daemon.types import Level

HTTP_TARGET = TargetFacts(
    name="app",
    check_kind="http",
    every_s=10.0,
    consecutive_failures=1,
    open_for_s=30.0,
    half_open_successes=2,
    fast_every_s=1.0,
    has_recovery=True,
    weight_share=0.75,
    degraded_over_s=None,
    timeout_s=2.0,
)


def test_a_kept_promise_gets_no_advice():
    assert recommendations(experiment(), facts(), HTTP_TARGET) == []


def test_slow_detection_names_the_interval_and_suggests_a_process_check():
    (advice,) = recommendations(experiment(), facts(detected_at=T0 + 8), HTTP_TARGET)
    assert advice.startswith("detection took 7 s: the check interval is 10 s")
    assert "lower `every`" in advice and "use a process check" in advice


def test_slow_detection_on_a_process_check_does_not_suggest_a_process_check():
    (advice,) = recommendations(experiment(), facts(detected_at=T0 + 8), replace(HTTP_TARGET, check_kind="process"))
    assert "process check" not in advice and "consecutive_failures" in advice


def test_slow_recovery_explains_open_for_when_it_alone_exceeds_the_promise():
    (advice,) = recommendations(experiment(), facts(recovered_at=T0 + 40), HTTP_TARGET)
    assert advice.startswith("recovery took 39 s (promise 10 s)")
    assert "`open_for` 30 s" in advice and "lower `breaker.open_for`" in advice


def test_no_recovery_ladder_is_the_advice_when_nothing_could_heal_it():
    (advice,) = recommendations(
        experiment(),
        facts(recovered_at=None, steady_after=None),
        replace(HTTP_TARGET, has_recovery=False, open_for_s=1.0),
    )
    assert "recovery did not finish" in advice and "has no recovery ladder: add a `retry` step" in advice


def test_worse_level_advice_gives_the_targets_share_of_the_score():
    (advice,) = recommendations(experiment(), facts(max_level=Level.EMERGENCY, min_score=25.0), HTTP_TARGET)
    assert "the level reached emergency (min score 25)" in advice and "app weighs 75% of the score" in advice


def test_a_latency_fault_nobody_noticed_explains_timeout_and_degraded_over():
    exp = experiment(fault={"kind": "latency", "delay": "500ms"}, expect={})
    (advice,) = recommendations(exp, facts(fault_kind="latency", detected_at=None, recovered_at=None), HTTP_TARGET)
    assert "never detected" in advice and "stays under the check's timeout" in advice


def test_refused_runs_get_advice_to_fix_the_system_first():
    refused = RunFacts(started_at=T0, fault_kind="kill", score_before=50.0, refused="steady state does not hold")
    (advice,) = recommendations(experiment(), refused, HTTP_TARGET)
    assert "score 50 < 90" in advice and "current_system_status" in advice


def test_aborted_runs_name_the_floor_and_the_blast_radius():
    (advice,) = recommendations(experiment(), facts(aborted="score 0 fell below the safety floor 50"), HTTP_TARGET)
    assert "safety floor 50" in advice and "app is 75% of the score" in advice


def test_interrupted_runs_and_failed_injections_get_no_advice_about_promises():
    assert recommendations(experiment(), facts(interrupted="restart", detected_at=None), HTTP_TARGET) == []
    assert recommendations(experiment(), facts(inject_error="no process", detected_at=None), HTTP_TARGET) == []


def test_dry_run_gets_no_recovery_advice():
    assert recommendations(experiment(), facts(dry_run=True, recovered_at=None), HTTP_TARGET) == []


def test_target_facts_come_from_the_config_with_the_targets_share_of_the_weight():
    from daemon.config.models import HealerdConfig
    from daemon.engine.chaos import TargetFacts

    def comp(name, weight, **breaker):
        return {
            "name": name,
            "weight": weight,
            "breaker": breaker,
            "check": {"kind": "process", "match": "x", "every": "2s", "timeout": "1s"},
        }

    config = HealerdConfig.model_validate({"components": {"app": comp("app", 3, open_for="5s"), "db": comp("db", 1)}})
    facts_ = TargetFacts.from_config(config, "app")
    assert (facts_.weight_share, facts_.every_s, facts_.open_for_s, facts_.check_kind) == (0.75, 2.0, 5.0, "process")
    assert facts_.has_recovery is False and TargetFacts.from_config(config, "nope") is None


def test_an_unhealed_fault_gets_the_recovery_advice_once_not_a_second_steady_state_one():
    unhealed = facts(recovered_at=None, steady_after=False, score_after=0.0, settle_s=0.0)
    (advice,) = recommendations(experiment(), unhealed, HTTP_TARGET)
    assert advice.startswith("recovery did not finish")


def test_a_steady_state_that_does_not_come_back_after_a_recovery_gets_its_own_advice():
    (advice,) = recommendations(experiment(), facts(steady_after=False, score_after=80.0, settle_s=10.0), HTTP_TARGET)
    assert advice.startswith("the steady state did not come back within 10 s of the fault's end")
