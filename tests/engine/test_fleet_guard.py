"""The fleet-wide guard's decision: open a fleet incident above max_share (and min_hosts), close it below."""

from __future__ import annotations

import pytest

from daemon.engine.fleet_guard import Share, plan, shared


@pytest.mark.parametrize(
    ("opened", "total", "max_share", "min_hosts", "expected"),
    [
        (3, 3, 0.5, 3, True),
        (2, 4, 0.5, 2, False),  # exactly the share is not more than it
        (3, 5, 0.5, 3, True),
        (2, 3, 0.5, 3, False),  # too few hosts to call it shared, whatever the share
        (1, 1, 0.5, 2, False),  # one host alone is never a fleet incident
        (300, 1000, 0.25, 3, True),
        (0, 10, 0.1, 2, False),
    ],
)
def test_shared_needs_more_than_the_share_and_at_least_min_hosts(opened, total, max_share, min_hosts, expected):
    assert shared(Share("dns", opened, total), max_share, min_hosts) is expected


def test_plan_opens_new_shared_causes_and_closes_those_that_fell_back():
    shares = [Share("dns", 5, 6), Share("db", 4, 6), Share("web", 1, 6)]
    p = plan(shares, {"db": 7, "cache": 9}, max_share=0.5, min_hosts=3)
    assert [s.component for s in p.open] == ["dns"]  # db already has one
    assert p.close == (9,)  # cache: no host reports it any more


def test_plan_is_empty_when_nothing_changes():
    p = plan([Share("dns", 5, 6)], {"dns": 1}, max_share=0.5, min_hosts=3)
    assert not p
