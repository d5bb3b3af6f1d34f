"""The default check timeout is min(5s, every); the "timeout ≤ every" rule judges only a written one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from daemon.config.models import ExecCheck, TcpCheck


@pytest.mark.parametrize(("every", "timeout_s"), [("1s", 1), ("250ms", 0.25), ("5s", 5), ("10s", 5), ("1h", 5)])
def test_an_unwritten_timeout_is_the_shorter_of_5s_and_every(every, timeout_s):
    check = TcpCheck(kind="tcp", port=1, every=every)
    assert check.timeout == timedelta(seconds=timeout_s)


def test_a_written_timeout_longer_than_every_is_still_refused():
    with pytest.raises(ValidationError, match="timeout must not be longer than every"):
        ExecCheck(kind="exec", run=["true"], every="1s", timeout="2s")


def test_a_written_timeout_is_kept_as_written():
    assert ExecCheck(kind="exec", run=["true"], every="1m", timeout="30s").timeout == timedelta(seconds=30)
