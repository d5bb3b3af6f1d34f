"""The scheduler records a bucket's batch with one `add(value, count)`: it must equal one add per run."""

from __future__ import annotations

import random

from daemon.scheduling.scheduler import ON_TIME_S, LatenessStats


def _one_by_one(batches: list[tuple[float, int]], limit: int) -> LatenessStats:
    stats = LatenessStats(limit=limit)
    for value, count in batches:
        for _ in range(count):
            stats.add(value)
    return stats


def test_a_batch_counts_as_that_many_runs_and_fills_the_ring_like_single_adds() -> None:
    rng = random.Random(7)
    # batches that straddle the ring's end and wrap it several times
    batches = [(rng.choice([0.0, ON_TIME_S / 2, ON_TIME_S * 3]), rng.randrange(0, 9)) for _ in range(60)]
    batched = LatenessStats(limit=17)
    for value, count in batches:
        batched.add(value, count)
    single = _one_by_one(batches, 17)
    assert (batched.submitted, batched.on_time) == (single.submitted, single.on_time)
    assert batched.submitted == sum(count for _, count in batches)
    assert list(batched.samples) == list(single.samples)
    assert len(batched.samples) == 17
    assert batched.percentile(99) == single.percentile(99)


def test_a_batch_of_no_runs_changes_nothing() -> None:
    stats = LatenessStats(limit=4)
    stats.add(5.0, 0)
    assert (stats.submitted, stats.on_time, list(stats.samples)) == (0, 0, [])
