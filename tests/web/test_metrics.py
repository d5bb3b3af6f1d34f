"""The metrics collector: names and types parse, the incremental renderer equals a from-scratch one,
the staleness rule matches the views', and the tally's histogram is cumulative."""

from __future__ import annotations

import random

from prometheus_client.parser import text_string_to_metric_families

from daemon.service.web.metrics import Renderer, Snapshot, component_state, render
from daemon.service.web.tally import BUCKETS, CheckTally
from daemon.types import CheckResult, Status

STATES = ["healthy", "degraded", "unhealthy", "unknown"]


def _snap(components, incidents=()):
    return Snapshot(
        now=1000.0,
        components=list(components),
        checks={c[0]: 3 for c in components},
        db={
            "incidents": set(incidents),
            "recoveries": [("retry", "succeeded", 2), ("retry", "failed", 1)],
            "notifications": [("ops", "delivered", 4)],
            "chaos": [("passed", 1)],
            "config_problems": 0,
        },
    )


def test_incremental_rendering_equals_formatting_everything_after_any_sequence_of_changes():
    rng = random.Random(13)
    renderer = Renderer()
    names = [f"c{i:03d}" for i in range(60)]
    for _round in range(40):
        present = [n for n in names if rng.random() < 0.9]  # components come and go (reloads)
        components = [(n, rng.choice(STATES), rng.randrange(5)) for n in present]
        incidents = {n for n in present if rng.random() < 0.2}
        snap = _snap(components, incidents)
        assert renderer.render(snap) == render(snap)


def test_unchanged_components_are_not_formatted_again():
    renderer = Renderer()
    components = [(f"c{i}", "healthy", 0) for i in range(100)]
    renderer.render(_snap(components))
    assert renderer.formatted == 100
    components[7] = ("c7", "unhealthy", 2)
    renderer.render(_snap(components, {"c7"}))
    assert renderer.formatted == 101


def test_exposition_parses_with_conventional_names_and_types():
    text = render(_snap([("web", "healthy", 0), ("db", "unhealthy", 2)], {"db"})).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["healerd_checks"].type == "counter"
    assert families["healerd_recoveries"].type == "counter"
    assert families["healerd_component_state"].type == "gauge"
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert values[("healerd_recoveries_total", (("strategy", "retry"),))] == 3
    assert values[("healerd_recovery_failures_total", (("strategy", "retry"),))] == 1
    assert values[("healerd_notification_failures_total", (("channel", "ops"),))] == 0
    assert values[("healerd_incident_open", (("component", "db"),))] == 1
    assert sum(values[("healerd_component_state", (("component", "db"), ("state", s)))] for s in STATES) == 1


def test_a_result_older_than_three_intervals_is_unknown_like_the_views_say():
    result = CheckResult("a", Status.HEALTHY, 1.0, "", None, ts=100.0)
    assert component_state(result, every_s=10, now=129.0) == "healthy"
    assert component_state(result, every_s=10, now=131.0) == "unknown"
    assert component_state(None, every_s=10, now=0.0) == "unknown"


def test_tally_counts_failures_by_error_class_and_fills_cumulative_buckets():
    tally = CheckTally(lambda name: "tcp")
    for latency_ms, status, error in (
        (3, Status.HEALTHY, None),
        (700, Status.UNHEALTHY, "timeout"),
        (20000, Status.UNKNOWN, None),
    ):
        tally.observe(CheckResult("a", status, latency_ms, "", error, ts=0.0))
    assert tally.checks["a"] == 3
    assert dict(tally.failures) == {("a", "timeout"): 1, ("a", "unknown"): 1}
    snap = _snap([("a", "healthy", 0)])
    snap.buckets, snap.sums = tally.buckets, tally.sums
    text = render(snap).decode()
    buckets = {
        s.labels["le"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "healerd_check_duration_seconds_bucket"
    }
    assert buckets["0.005"] == 1 and buckets["0.5"] == 1 and buckets["1.0"] == 2 and buckets["+Inf"] == 3
    assert len(buckets) == len(BUCKETS) + 1
