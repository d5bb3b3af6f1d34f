"""http checks against a real server on 127.0.0.1: status, body, JSON path, latency, hang, refusal."""

from __future__ import annotations

import socket

import httpx
import pytest
from httpservers import Route

from daemon.engine.checks import run_check
from daemon.engine.checks.http import _MISSING, classify_connect_error, json_equal, lookup, parse_json_path
from daemon.types import Status


async def test_expected_status_is_healthy(http_server, component):
    http_server.routes["/health"] = Route(200, b"all good")
    result = await run_check(component("http", url=http_server.url("/health")))
    assert (result.status, result.error_class) == (Status.HEALTHY, None)
    assert result.message == "HTTP 200"
    assert result.component == "svc" and result.latency_ms > 0


async def test_unexpected_status_is_bad_status(http_server, component):
    http_server.routes["/health"] = Route(503, b"down")
    result = await run_check(component("http", url=http_server.url("/health"), expect_status=[200, 204]))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "bad_status")
    assert "503" in result.message and "200, 204" in result.message


async def test_status_list_accepts_any_listed_code(http_server, component):
    http_server.routes["/redirect"] = Route(302, b"")
    result = await run_check(component("http", url=http_server.url("/redirect"), expect_status=[200, 302]))
    assert result.status is Status.HEALTHY  # redirects are answers, not followed


async def test_body_substring_present_and_absent(http_server, component):
    http_server.routes["/a"] = Route(200, b"status: READY")
    ok = await run_check(component("http", url=http_server.url("/a"), body_contains="READY"))
    bad = await run_check(component("http", url=http_server.url("/a"), body_contains="LIVE"))
    assert ok.status is Status.HEALTHY
    assert (bad.status, bad.error_class) == (Status.UNHEALTHY, "bad_body")
    assert "LIVE" in bad.message


async def test_json_path_equality(http_server, component):
    http_server.routes["/j"] = Route(200, {"checks": [{"name": "db", "ok": True}], "version": 3})
    url = http_server.url("/j")
    assert (
        await run_check(component("http", url=url, json_path="checks[0].ok", json_equals=True))
    ).status is Status.HEALTHY
    assert (await run_check(component("http", url=url, json_path="$.version", json_equals=3))).status is Status.HEALTHY
    wrong = await run_check(component("http", url=url, json_path="checks[0].name", json_equals="cache"))
    assert (wrong.status, wrong.error_class) == (Status.UNHEALTHY, "bad_body")
    assert '"db"' in wrong.message and '"cache"' in wrong.message
    missing = await run_check(component("http", url=url, json_path="checks[3].ok", json_equals=True))
    assert missing.error_class == "bad_body" and "no checks[3].ok" in missing.message


async def test_non_json_body_with_json_path_is_bad_body(http_server, component):
    http_server.routes["/t"] = Route(200, b"<html>")
    result = await run_check(component("http", url=http_server.url("/t"), json_path="a", json_equals=1))
    assert result.error_class == "bad_body" and "not JSON" in result.message


async def test_slow_passing_answer_is_degraded(http_server, component):
    http_server.routes["/slow"] = Route(200, b"ok", delay=0.3)
    result = await run_check(component("http", url=http_server.url("/slow"), degraded_over="100ms"))
    assert (result.status, result.error_class) == (Status.DEGRADED, None)
    assert result.latency_ms >= 300 and "slow" in result.message


async def test_fast_answer_under_degraded_over_stays_healthy(http_server, component):
    http_server.routes["/fast"] = Route(200, b"ok")
    result = await run_check(component("http", url=http_server.url("/fast"), degraded_over="5s"))
    assert result.status is Status.HEALTHY


async def test_hanging_server_times_out_at_the_check_timeout(http_server, component):
    http_server.routes["/hang"] = Route(hang=True)
    result = await run_check(component("http", url=http_server.url("/hang"), timeout="300ms"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "timeout")
    assert result.latency_ms >= 300


async def test_closed_port_is_refused(closed_port, component):
    result = await run_check(component("http", url=f"http://127.0.0.1:{closed_port}/"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "refused")


async def test_shared_client_is_used_and_left_open(http_server, component):
    http_server.routes["/h"] = Route(200, b"ok")
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (
                await run_check(component("http", url=http_server.url("/h")), client=client)
            ).status is Status.HEALTHY
        assert not client.is_closed
    assert http_server.hits == 3


def test_dns_failure_is_classified_dns():
    # Resolving a real name would leave this machine, so the classifier gets the chain httpx builds.
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as inner:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from inner
    except httpx.ConnectError as exc:
        outcome = classify_connect_error(exc)
    assert outcome.error_class == "dns"


def test_json_path_syntax():
    assert parse_json_path("a.b[0].c") == ["a", "b", 0, "c"]
    assert parse_json_path("$.data[2][1]") == ["data", 2, 1]
    assert parse_json_path("$") == []
    for bad in ["", "a..b", "a.", ".a", "a[x]", "a[-1]"]:
        with pytest.raises(ValueError):
            parse_json_path(bad)


def test_lookup_does_not_index_dicts_with_numbers_or_lists_with_names():
    doc = {"a": [10, {"b": None}], "0": "zero"}
    assert lookup(doc, ["a", 1, "b"]) is None
    assert lookup(doc, [0]) is _MISSING
    assert lookup(doc, ["a", "b"]) is _MISSING
    assert lookup(doc, ["a", 2]) is _MISSING
    assert lookup(doc, ["0"]) == "zero"


def test_json_equality_does_not_mix_bools_and_numbers():
    assert json_equal(True, True) and json_equal(1, 1.0) and json_equal({"a": [1]}, {"a": [1]})
    assert not json_equal(True, 1)
    assert not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1, 2], [1])


async def test_a_bad_json_path_is_unknown_not_a_crash(http_server, component):
    http_server.routes["/j"] = Route(200, {"a": 1})
    result = await run_check(component("http", url=http_server.url("/j"), json_path="a..b", json_equals=1))
    assert (result.status, result.error_class) == (Status.UNKNOWN, "error")
    assert "ValueError" in result.message and "a..b" in result.message
