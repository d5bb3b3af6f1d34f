"""The verdict of a chaos run as a pure function of what it observed (engine/chaos.py)."""

from __future__ import annotations

import pytest
from chaos_kit import T0, experiment, facts

from daemon.engine.chaos import judge, promises_missed, recovery_clock_start, time_to_recover
from daemon.types import Level


def test_every_promise_kept_passes_with_the_measured_times_in_the_reason():
    j = judge(experiment(), facts())
    assert j.verdict == "passed"
    assert "detected in 1 s" in j.reason and "recovered in 7 s" in j.reason and "worst level reduced" in j.reason


def test_detection_one_second_late_fails_and_says_by_how_much():
    j = judge(experiment(), facts(detected_at=T0 + 4))
    assert j.verdict == "failed"
    assert j.reason.startswith("detected after 3 s, promise: within 2s")


def test_detection_exactly_at_the_promise_passes():
    assert judge(experiment(), facts(detected_at=T0 + 3)).verdict == "passed"


def test_never_detected_fails_only_when_detection_was_promised():
    assert judge(experiment(), facts(detected_at=None, recovered_at=None)).verdict == "failed"
    lax = experiment(expect={"recovered_within": "10s"})
    assert judge(lax, facts(detected_at=None, recovered_at=None)).verdict == "passed"


def test_detected_but_never_recovered_fails_and_the_rollback_is_named():
    j = judge(experiment(), facts(recovered_at=None, steady_after=False, score_after=0.0, rolled_back=True))
    assert j.verdict == "failed"
    assert "not recovered" in j.reason and "steady state not restored" in j.reason
    assert j.reason.endswith("; rolled back")


def test_a_level_worse_than_promised_fails():
    j = judge(experiment(), facts(max_level=Level.MINIMAL))
    assert j.verdict == "failed" and "level reached minimal, promise: no worse than reduced" in j.reason


def test_steady_state_not_back_after_the_fault_fails_even_when_every_time_was_kept():
    j = judge(experiment(), facts(steady_after=False, score_after=75.0, settle_s=10.0))
    assert j.verdict == "failed" and "score 75 < 90" in j.reason


@pytest.mark.parametrize(
    "override, verdict",
    [
        ({"interrupted": "the daemon restarted during the run", "aborted": "x", "refused": "y"}, "interrupted"),
        ({"refused": "steady state does not hold", "aborted": "x"}, "refused"),
        ({"aborted": "score 20 fell below the safety floor 50", "inject_error": "boom"}, "aborted"),
        ({"inject_error": "no process found", "detected_at": None}, "failed"),
    ],
)
def test_verdict_precedence_interrupted_refused_aborted_failed(override, verdict):
    assert judge(experiment(), facts(**override)).verdict == verdict


def test_aborted_reason_says_the_rollback_failed_when_it_did():
    j = judge(
        experiment(),
        facts(aborted="score 20 fell below the safety floor 50", rolled_back=False, rollback_error="exit 3"),
    )
    assert j.reason == "score 20 fell below the safety floor 50; rollback failed: exit 3"


def test_dry_run_does_not_judge_recovery_but_still_judges_detection():
    dry = facts(dry_run=True, recovered_at=None)
    assert judge(experiment(), dry).verdict == "passed"
    assert "recovery not judged (dry run)" in judge(experiment(), dry).reason
    assert judge(experiment(), facts(dry_run=True, recovered_at=None, detected_at=T0 + 9)).verdict == "failed"


def test_a_held_fault_counts_recovery_from_its_revert():
    held = facts(
        fault_kind="unavailable", injected_at=T0, detected_at=T0 + 1, reverted_at=T0 + 30, recovered_at=T0 + 36
    )
    assert recovery_clock_start(held) == T0 + 30
    assert time_to_recover(held) == pytest.approx(6.0)
    assert judge(experiment(fault={"kind": "unavailable"}), held).verdict == "passed"


def test_a_held_fault_healed_before_its_revert_counts_from_the_injection():
    held = facts(fault_kind="run", injected_at=T0, detected_at=T0 + 1, recovered_at=T0 + 12, reverted_at=T0 + 30)
    assert recovery_clock_start(held) == T0
    missed = promises_missed(experiment(fault={"kind": "run", "run": ["x"], "revert": ["y"]}), held)
    assert missed == ["recovered 12 s after the injection, promise: within 10s"]


def test_a_one_shot_fault_always_counts_recovery_from_the_injection():
    one_shot = facts(injected_at=T0, detected_at=T0 + 1, recovered_at=T0 + 11, reverted_at=T0 + 5)
    assert recovery_clock_start(one_shot) == T0 and time_to_recover(one_shot) == pytest.approx(11.0)


def test_a_steady_state_checked_only_at_the_windows_end_says_so():
    j = judge(experiment(), facts(recovered_at=None, steady_after=False, score_after=0.0, settle_s=0.0))
    assert "steady state not restored: score 0 < 90 at the end of the window" in j.reason
