"""In-daemon faults rewrite the target's results, mark them injected, and never hide a real failure."""

from __future__ import annotations

import pytest

from daemon.config.models import Component, ErrorFault, LatencyFault, UnavailableFault
from daemon.engine.chaos_faults import make_injector
from daemon.types import CheckResult, Status


def component(**check) -> Component:
    spec = {"kind": "http", "url": "http://127.0.0.1:1/healthz", "every": "1s", "timeout": "500ms", **check}
    return Component.model_validate({"name": "app", "check": spec})


def result(status=Status.HEALTHY, latency=20.0, error_class=None) -> CheckResult:
    return CheckResult("app", status, latency, "HTTP 200", error_class, 1_700_000_000.0)


def test_latency_under_degraded_over_only_grows_the_latency_and_is_marked():
    inject = make_injector(LatencyFault(kind="latency", delay="100ms"), component(degraded_over="300ms"), run_id=1)
    out = inject(result())
    assert (out.status, out.latency_ms, out.injected) == (Status.HEALTHY, 120.0, True)


def test_latency_over_degraded_over_makes_a_healthy_result_degraded():
    inject = make_injector(LatencyFault(kind="latency", delay="300ms"), component(degraded_over="300ms"), run_id=1)
    out = inject(result())
    assert (out.status, out.latency_ms, out.injected) == (Status.DEGRADED, 320.0, True)
    assert "chaos run 1" in out.message


def test_latency_past_the_timeout_is_a_timeout_failure_at_the_timeout():
    inject = make_injector(LatencyFault(kind="latency", delay="1s"), component(), run_id=1)
    out = inject(result())
    assert (out.status, out.error_class, out.latency_ms, out.injected) == (Status.UNHEALTHY, "timeout", 500.0, True)


def test_unavailable_fails_every_result_as_refused():
    inject = make_injector(UnavailableFault(kind="unavailable"), component(), run_id=7)
    outs = [inject(result()) for _ in range(20)]
    assert {(o.status, o.error_class, o.injected) for o in outs} == {(Status.UNHEALTHY, "refused", True)}


def test_a_real_failure_passes_through_unchanged_and_unmarked():
    real = result(Status.UNHEALTHY, error_class="bad_status")
    for fault in (
        UnavailableFault(kind="unavailable"),
        ErrorFault(kind="error", rate=1.0),
        LatencyFault(kind="latency", delay="1s"),
    ):
        assert make_injector(fault, component(), run_id=1)(real) is real


def test_error_rate_is_a_seeded_share_and_replays_identically():
    fault = ErrorFault(kind="error", rate=0.3)
    first = [make_injector(fault, component(), run_id=42)(result()).status for _ in range(1)]
    inject_a = make_injector(fault, component(), run_id=42)
    inject_b = make_injector(fault, component(), run_id=42)
    a = [inject_a(result()).status for _ in range(2000)]
    b = [inject_b(result()).status for _ in range(2000)]
    assert a == b and first[0] == a[0]
    share = a.count(Status.UNHEALTHY) / len(a)
    assert 0.25 < share < 0.35
    other = make_injector(fault, component(), run_id=43)
    assert [other(result()).status for _ in range(2000)] != a


def test_process_faults_are_not_in_daemon_faults():
    from daemon.config.models import KillFault

    with pytest.raises(ValueError, match="not an in-daemon fault"):
        make_injector(KillFault(kind="kill"), component(), run_id=1)
