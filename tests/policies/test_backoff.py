"""The AWS backoff-and-jitter formulas: exact values with a pinned random source, bounds for any draw,
and determinism under a seeded generator."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config.models import Backoff
from daemon.policies.backoff import delays, expo, next_delay

SETTINGS = settings(max_examples=300, deadline=None)


class PinnedRandom(random.Random):
    """Every draw is the same fraction of its range, so U(a, b) = a + (b - a) · fraction exactly."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def random(self) -> float:
        return self.fraction


def backoff(jitter: str = "none", initial: str = "1s", max: str = "30s", multiplier: float = 2.0) -> Backoff:
    return Backoff(jitter=jitter, initial=initial, max=max, multiplier=multiplier)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (backoff(), [1, 2, 4, 8, 16, 30, 30]),
        (backoff(initial="250ms", max="2s"), [0.25, 0.5, 1, 2, 2]),
        (backoff(multiplier=3.0, max="1m"), [1, 3, 9, 27, 60]),
        (backoff(multiplier=1.0), [1, 1, 1]),
        (backoff(initial="1m", max="30s"), [30, 30]),  # a cap below the base wins
    ],
)
def test_expo_is_the_capped_exponential(spec: Backoff, expected: list[float]) -> None:
    assert [expo(spec, n) for n in range(len(expected))] == expected


def test_expo_reaches_the_cap_without_overflowing_for_huge_attempt_numbers() -> None:
    assert expo(backoff(multiplier=10.0), 100_000) == 30


def test_attempts_count_from_zero() -> None:
    with pytest.raises(ValueError):
        expo(backoff(), -1)


@pytest.mark.parametrize(
    ("jitter", "attempt", "prev", "fraction", "expected"),
    [
        ("none", 3, None, 0.9, 8),
        ("full", 3, None, 0.0, 0),
        ("full", 3, None, 0.5, 4),
        ("full", 10, None, 0.5, 15),  # drawn under the cap, not under base·2^10
        ("equal", 3, None, 0.0, 4),
        ("equal", 3, None, 0.5, 6),
        ("decorrelated", 0, None, 0.0, 1),  # prev starts at base: U(1, 3)
        ("decorrelated", 0, None, 0.5, 2),
        ("decorrelated", 5, 4.0, 0.5, 6.5),  # U(1, 12): grows from prev, not from the attempt number
        ("decorrelated", 5, 20.0, 0.5, 30),  # U(1, 60) = 30.5, capped
        ("decorrelated", 5, 0.1, 0.5, 2),  # a prev below base is treated as base
    ],
)
def test_each_jitter_mode_follows_its_formula(jitter, attempt, prev, fraction, expected) -> None:
    assert next_delay(backoff(jitter), attempt, prev, PinnedRandom(fraction)) == pytest.approx(expected)


@pytest.mark.parametrize("jitter", ["none", "full", "equal", "decorrelated"])
def test_a_seeded_generator_gives_the_same_waits_every_time(jitter: str) -> None:
    spec = backoff(jitter)
    first = list(itertools.islice(delays(spec, random.Random(42)), 20))
    again = list(itertools.islice(delays(spec, random.Random(42)), 20))
    assert first == again
    if jitter != "none":
        other = list(itertools.islice(delays(spec, random.Random(43)), 20))
        assert other != first


def test_delays_threads_the_previous_wait_through_decorrelated_jitter() -> None:
    spec = backoff("decorrelated", max="1h")
    waits = list(itertools.islice(delays(spec, PinnedRandom(1.0)), 4))  # U(base, prev·3) at its top
    assert waits == [3, 9, 27, 81]


durations = st.integers(1, 120_000).map(lambda ms: f"{ms}ms")
backoffs = st.builds(
    Backoff,
    initial=durations,
    max=durations,
    multiplier=st.floats(1.0, 10.0),
    jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
)


@SETTINGS
@given(backoffs, st.integers(0, 200), st.integers(0, 2**32))
def test_every_mode_stays_within_its_bounds(spec: Backoff, attempt: int, seed: int) -> None:
    ceiling = expo(spec, attempt)
    wait = next_delay(spec, attempt, None, random.Random(seed))
    bounds = {
        "none": (ceiling, ceiling),
        "full": (0.0, ceiling),
        "equal": (ceiling / 2, ceiling),
        "decorrelated": (min(spec.initial, spec.max).total_seconds(), spec.max.total_seconds()),
    }[spec.jitter]
    assert bounds[0] <= wait <= bounds[1]


@SETTINGS
@given(backoffs.filter(lambda b: b.jitter == "decorrelated"), st.integers(0, 2**32))
def test_decorrelated_waits_stay_between_base_and_cap_along_a_whole_sequence(spec: Backoff, seed: int) -> None:
    base, cap = min(spec.initial, spec.max).total_seconds(), spec.max.total_seconds()
    for wait in itertools.islice(delays(spec, random.Random(seed)), 50):
        assert base <= wait <= cap


@SETTINGS
@given(backoffs, st.integers(0, 200))
def test_expo_never_shrinks_as_attempts_go_on_and_never_passes_the_cap(spec: Backoff, attempt: int) -> None:
    assert expo(spec, attempt) <= expo(spec, attempt + 1) <= spec.max.total_seconds()
