"""Fixtures for the service tests; the harness itself is in degradation_kit.py."""

from __future__ import annotations

import time

import pytest
from degradation_kit import POLICY, SETTINGS, Harness

from daemon.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=time.time())


@pytest.fixture
async def harness(tmp_path, db_path, clock):
    made: list[Harness] = []

    def make(settings: str | None = None, policy: str | None = None) -> Harness:
        h = Harness(tmp_path, db_path, clock, settings or SETTINGS, policy or POLICY)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()
