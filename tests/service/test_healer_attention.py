"""The healer's pass looks only at components something happened to (issue 11: walking a healthy
fleet of 10,000 components twice a second cost more than their checks)."""

from __future__ import annotations

from daemon.service.healer.loop import FULL_SWEEP_S, Healer
from daemon.service.healer.state import LadderBook
from daemon.types import BreakerState, Status

H, U = Status.HEALTHY, Status.UNHEALTHY
T0 = 1_700_000_000.0


def test_a_healthy_result_on_a_settled_ladder_is_not_queued_but_any_other_result_is():
    book = LadderBook(lambda: {"app": 1}, lambda: 60.0)
    book.observe("app", H, BreakerState.CLOSED, T0)  # a fresh ladder learns healthy_since from it
    assert book.attention == {"app"}
    assert book.fold("app", 1800).healthy_since == T0
    book.dirty.discard("app")  # stored
    book.settle("app")
    assert book.attention == set()

    book.observe("app", H, BreakerState.CLOSED, T0 + 10)  # folds to the same state: not even queued
    assert book.attention == set() and book.fold("app", 1800).healthy_since == T0
    book.observe("app", H, BreakerState.HALF_OPEN, T0 + 20)  # healthy, but the breaker holds traffic back
    assert book.attention == {"app"} and book.fold("app", 1800).healthy_since is None


async def test_a_healthy_result_that_arrives_while_a_pass_holds_the_ladder_is_queued():
    book = LadderBook(lambda: {"app": 1}, lambda: 60.0)
    book.observe("app", H, BreakerState.CLOSED, T0)
    book.fold("app", 1800)
    book.dirty.discard("app")
    book.settle("app")
    async with book.locks["app"]:  # the pass may be about to set a state this result must fold into
        book.observe("app", H, BreakerState.CLOSED, T0 + 10)
    assert book.attention == {"app"}


async def test_a_pass_walks_everything_once_then_only_what_changed_then_everything_after_a_while(harness, clock):
    h = harness()
    await h.start()
    rt = h.runtime
    healer = Healer(
        config=lambda: rt.config, clock=clock, store=rt.store, monitor=rt.monitor, cadence=rt.scheduler, commands={}
    )
    rt.monitor.result_listeners.append(healer._on_result)
    rt.monitor.transition_listeners.append(healer._on_transition)
    walked: list[list[str]] = []
    to_examine = healer._to_examine
    healer._to_examine = lambda config: walked.append(to_examine(config)) or walked[-1]  # type: ignore[method-assign]

    h.result("a", H)
    h.result("b", H)
    await healer.pass_once()
    assert walked[-1] == ["a", "b"]  # the first pass after a start (or a reload) walks them all
    await h.settled()

    clock.advance(10)
    h.result("a", H)
    h.result("b", H)
    await healer.pass_once()
    assert walked[-1] == []  # a healthy fleet: nothing to decide, nothing walked

    h.result("b", U)
    await healer.pass_once()
    assert walked[-1] == ["b"]
    assert healer.book.get("b").healthy_since is None  # and the failure was folded in

    clock.advance(FULL_SWEEP_S)
    await healer.pass_once()
    assert walked[-1] == ["a", "b"]  # the safety net
    await h.settled()
