"""tests/helpers.wait_until: the suite's only way to wait for something."""

from __future__ import annotations

import pytest
from helpers import wait_until


def test_wait_until_returns_the_first_truthy_value():
    calls = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0) == "ready"


def test_wait_until_fails_at_the_deadline_with_the_message():
    with pytest.raises(AssertionError, match=r"timed out after 0.05s waiting: the port to open"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, message="the port to open")


def test_wait_until_message_may_be_computed_at_the_deadline():
    state = {"seen": 0}

    def predicate() -> bool:
        state["seen"] += 1
        return False

    with pytest.raises(AssertionError, match=r"saw \d+ times"):
        wait_until(predicate, timeout=0.02, interval=0.005, message=lambda: f"saw {state['seen']} times")
