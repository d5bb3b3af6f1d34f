"""The system health score and the trend: arithmetic pinned with exact inputs."""

from __future__ import annotations

import pytest

from daemon.config.models import Component
from daemon.engine.score import Condition, Observation, compute_score
from daemon.engine.trend import Trend, compute_trend
from daemon.types import BreakerState, Status

NOW = 1_800_000_000.0


def obs(name, status=Status.HEALTHY, *, weight=1.0, age=1.0, every=10.0, breaker=BreakerState.CLOSED):
    return Observation(
        name=name,
        weight=weight,
        status=status,
        last_ts=None if age is None else NOW - age,
        every_s=every,
        breaker=breaker,
    )


def test_all_healthy_scores_100():
    score = compute_score([obs("a"), obs("b")], NOW)
    assert score.value == 100.0
    assert score.unknown_count == 0
    assert [c.name for c in score.counted] == ["a", "b"]


def test_weights_scale_each_components_share():
    # db weighs 3, cache 1: db down leaves 1/4 of the weight healthy.
    score = compute_score([obs("db", Status.UNHEALTHY, weight=3), obs("cache", weight=1)], NOW)
    assert score.value == 25.0
    score = compute_score([obs("db", weight=3), obs("cache", Status.UNHEALTHY, weight=1)], NOW)
    assert score.value == 75.0


def test_degraded_counts_the_configured_fraction():
    parts = [obs("a", Status.DEGRADED), obs("b")]
    assert compute_score(parts, NOW).value == 75.0  # default 0.5
    assert compute_score(parts, NOW, degraded_weight=0.2).value == 60.0
    assert compute_score(parts, NOW, degraded_weight=0.0).value == 50.0


def test_mixed_weights_and_statuses_follow_the_formula():
    parts = [
        obs("a", Status.HEALTHY, weight=2),
        obs("b", Status.DEGRADED, weight=1),
        obs("c", Status.UNHEALTHY, weight=1.5),
        obs("d", Status.HEALTHY, weight=0.5),
    ]
    expected = 100 * (2 * 1 + 1 * 0.5 + 1.5 * 0 + 0.5 * 1) / (2 + 1 + 1.5 + 0.5)
    assert compute_score(parts, NOW).value == pytest.approx(expected)
    assert compute_score(parts, NOW).value == 60.0


@pytest.mark.parametrize("state", [BreakerState.OPEN, BreakerState.FORCED_OPEN, BreakerState.HALF_OPEN])
def test_a_breaker_that_is_not_closed_counts_zero_even_if_the_last_result_was_healthy(state):
    score = compute_score([obs("a", Status.HEALTHY, breaker=state), obs("b")], NOW)
    assert score.value == 50.0
    assert score.components[0].condition.value == state.value
    assert score.components[0].condition.down


def test_an_open_breaker_counts_zero_even_when_its_results_are_stale():
    # While open, the scheduler may not probe: the outage must not turn into "unknown".
    score = compute_score([obs("a", breaker=BreakerState.OPEN, age=10_000), obs("b")], NOW)
    assert score.value == 50.0
    assert score.unknown_count == 0


def test_a_disabled_breaker_lets_the_last_result_decide():
    assert compute_score([obs("a", breaker=BreakerState.DISABLED)], NOW).value == 100.0


def test_a_stale_component_is_unknown_and_left_out_of_the_sum():
    # every=10s, stale_after=3: 31s without a result is stale, 30s is not.
    parts = [obs("a", Status.UNHEALTHY, age=31), obs("b")]
    score = compute_score(parts, NOW)
    assert score.value == 100.0
    assert score.unknown == ("a",)
    assert score.components[0].condition is Condition.STALE
    assert "31s ago > 3×10s" in score.components[0].detail

    fresh = compute_score([obs("a", Status.UNHEALTHY, age=30), obs("b")], NOW)
    assert fresh.value == 50.0 and fresh.unknown_count == 0


def test_staleness_uses_each_components_own_interval_and_the_configured_multiple():
    parts = [obs("slow", age=100, every=60), obs("fast", Status.UNHEALTHY, age=100, every=10)]
    score = compute_score(parts, NOW)
    assert score.unknown == ("fast",)
    assert compute_score(parts, NOW, stale_after=12).unknown == ()


def test_never_checked_and_check_reported_unknown_are_unknown():
    score = compute_score([obs("new", None, age=None), obs("odd", Status.UNKNOWN), obs("ok")], NOW)
    assert score.value == 100.0
    assert score.unknown == ("new", "odd")
    assert {c.name: c.detail for c in score.components}["new"] == "never checked"


def test_all_unknown_gives_an_undefined_score():
    score = compute_score([obs("a", age=None), obs("b", age=1000)], NOW)
    assert score.value is None
    assert score.unknown_count == 2
    assert compute_score([], NOW).value is None


def test_a_score_that_is_a_threshold_on_paper_is_exactly_that_number():
    # 7 of 10 equal weights: float arithmetic would give 70.00000000000001 without rounding.
    parts = [obs(f"c{i}", Status.HEALTHY if i < 7 else Status.UNHEALTHY, weight=0.1) for i in range(10)]
    assert compute_score(parts, NOW).value == 70.0


def test_observation_reads_weight_and_interval_from_the_component_config():
    comp = Component.model_validate({"name": "db", "weight": 4, "check": {"kind": "tcp", "port": 5432, "every": "30s"}})
    o = Observation.for_component(comp, status=Status.HEALTHY, last_ts=NOW - 80)
    assert (o.weight, o.every_s) == (4.0, 30.0)
    assert compute_score([o], NOW).value == 100.0  # 80s < 3×30s


def test_bad_inputs_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="weight"):
        compute_score([obs("a", weight=0)], NOW)
    with pytest.raises(ValueError, match="observed twice"):
        compute_score([obs("a"), obs("a")], NOW)
    with pytest.raises(ValueError, match="degraded_weight"):
        compute_score([obs("a")], NOW, degraded_weight=1.5)


# --- trend ------------------------------------------------------------------------------------------


def series(values, step=60.0):
    return [(NOW + i * step, v) for i, v in enumerate(values)]


def test_trend_follows_the_least_squares_slope_per_minute():
    up = compute_trend(series([50, 55, 60, 65, 70]))
    assert up.trend is Trend.IMPROVING and up.slope_per_min == pytest.approx(5.0)
    down = compute_trend(series([90, 80, 70]))
    assert down.trend is Trend.DECLINING and down.slope_per_min == pytest.approx(-10.0)


def test_small_noise_within_the_dead_band_is_stable():
    result = compute_trend(series([90, 90.3, 89.8, 90.1, 90.2, 89.9]))
    assert result.trend is Trend.STABLE
    assert abs(result.slope_per_min) < 0.5


def test_one_noisy_endpoint_does_not_flip_the_trend():
    # Last-minus-first would call this declining; the fitted line over 10 points is flat-to-rising.
    values = [80, 80, 81, 81, 82, 82, 83, 83, 84, 78]
    assert compute_trend(series(values), dead_band=0.1).trend is not Trend.DECLINING


def test_only_the_newest_window_counts_and_undefined_scores_are_skipped():
    values = [10, 20, 30, 40, 50] + [90, None, 90, 90, None, 90]
    result = compute_trend(series(values), window=4)
    assert result.points == 4 and result.trend is Trend.STABLE


def test_too_few_points_is_stable_with_no_slope():
    result = compute_trend(series([10, 90]))
    assert result == (result.__class__(Trend.STABLE, None, 2))
    assert compute_trend([(NOW, 10), (NOW, 50), (NOW, 90)]).slope_per_min is None


def test_trend_does_not_care_about_input_order():
    pts = series([90, 80, 70, 60])
    assert compute_trend(list(reversed(pts))) == compute_trend(pts)
