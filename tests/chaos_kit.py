"""Builders shared by the chaos tests (tests/chaos/): an experiment and a run's observed facts."""

from __future__ import annotations

from daemon.config.models import Experiment
from daemon.engine.chaos import RunFacts
from daemon.types import Level

T0 = 1_700_000_000.0


def experiment(**overrides) -> Experiment:
    """app-crash with short promises; keyword arguments replace top-level keys of the spec."""
    spec = {
        "name": "app-crash",
        "target": "app",
        "fault": {"kind": "kill"},
        "duration": "30s",
        "steady_state": {"min_score": 90},
        "abort_below": 50,
        "expect": {"detected_within": "2s", "recovered_within": "10s", "max_level": "reduced"},
    }
    spec.update(overrides)
    return Experiment.model_validate(spec)


def facts(**overrides) -> RunFacts:
    """A kill injected at T0+1, detected 1 s later, recovered 7 s after the injection, steady again."""
    base = {
        "started_at": T0,
        "fault_kind": "kill",
        "score_before": 100.0,
        "injected_at": T0 + 1,
        "detected_at": T0 + 2,
        "recovered_at": T0 + 8,
        "min_score": 60.0,
        "max_level": Level.REDUCED,
        "steady_after": True,
        "score_after": 100.0,
    }
    base.update(overrides)
    return RunFacts(**base)
