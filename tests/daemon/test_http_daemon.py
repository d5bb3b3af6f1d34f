"""The HTTP service of a running daemon: /metrics agrees with `status --json`, the API's JSON equals the
CLI's for the same database, /healthz, and the metrics textfile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import wait_until
from http_kit import http_url, policies
from prometheus_client.parser import text_string_to_metric_families

HEALERD = [sys.executable, "-m", "daemon"]


@pytest.fixture
def running(config_dir, start_daemon, listener, free_port, tmp_path):
    web = listener()
    config_dir.policy("a.toml", policies(web.port, free_port()))
    config_dir.settings(f"""
        [http]
        enabled = true
        port = 0
        refresh = "5s"

        [metrics]
        textfile = "{tmp_path / "healerd.prom"}"
        textfile_every = "250ms"
    """)
    d = start_daemon(config_dir)
    d.url = http_url(d)
    yield d
    assert d.stop() == 0


def cli_json(d, *args) -> object:
    out = subprocess.run([*HEALERD, *args, "--db", str(d.db)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def get(d, path: str) -> httpx.Response:
    return httpx.get(d.url + path, timeout=20, trust_env=False)


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


STATE_CODES = {"closed": 0, "half_open": 1, "open": 2, "forced_open": 3, "disabled": 4}


def metrics_agree_with_status(d):
    """None until every component's metrics equal what `status --json` says; then the parsed samples."""
    status = cli_json(d, "status", "--json")
    m = samples(get(d, "/metrics").text)
    for c in status["components"]:
        name = c["component"]
        for state in ("healthy", "degraded", "unhealthy", "unknown"):
            if m[("healerd_component_state", (("component", name), ("state", state)))] != (
                1 if c["status"] == state else 0
            ):
                return None
        if m[("healerd_component_up", (("component", name),))] != (1 if c["status"] in ("healthy", "degraded") else 0):
            return None
        if m[("healerd_breaker_state", (("component", name),))] != STATE_CODES[c["breaker_state"]]:
            return None
        if m[("healerd_incident_open", (("component", name),))] != (1 if c["incident_id"] else 0):
            return None
    deg = status["degradation"]
    if (
        deg is None
        or deg["score"] is None
        or m.get(("healerd_health_score_ratio", ())) != pytest.approx(deg["score"] / 100)
    ):
        return None
    return status, m


def test_metrics_parse_and_match_status_json_for_a_failing_and_a_healthy_component(running):
    d = running
    status, m = wait_until(lambda: (r := metrics_agree_with_status(d)) and _failing_open(r[0]) and r, 30)
    by_name = {c["component"]: c for c in status["components"]}
    assert by_name["web"]["status"] == "healthy" and by_name["db"]["status"] == "unhealthy"
    assert by_name["db"]["breaker_state"] == "open" and by_name["db"]["incident_id"]
    assert m[("healerd_component_up", (("component", "web"),))] == 1
    assert m[("healerd_component_up", (("component", "db"),))] == 0
    assert m[("healerd_breaker_state", (("component", "db"),))] == 2
    assert m[("healerd_checks_total", (("component", "db"),))] >= 2
    assert m[("healerd_check_failures_total", (("component", "db"), ("error_class", "refused")))] >= 2
    # db's ≥ 2 failures and web's ≥ 1 success are all tcp checks (the histogram is per kind)
    assert m[("healerd_check_duration_seconds_count", (("kind", "tcp"),))] >= 3
    assert m[("healerd_health_score_ratio", ())] == pytest.approx(status["degradation"]["score"] / 100)
    assert m[("healerd_degradation_level", ())] == ["full", "reduced", "minimal", "emergency"].index(
        status["degradation"]["level"]
    )
    assert m[("healerd_config_last_reload_successful", ())] == 1
    assert ("healerd_build_info", (("python", sys.version.split()[0]), ("version", "0.1.0"))) in m


def _failing_open(status) -> bool:
    by_name = {c["component"]: c for c in status["components"]}
    return by_name["db"]["breaker_state"] == "open" and by_name["web"]["status"] == "healthy"


def _without(doc, *keys):
    if isinstance(doc, dict):
        return {k: _without(v, *keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list):
        return [_without(v, *keys) for v in doc]
    return doc


def test_api_json_equals_the_clis_for_the_same_database(running):
    d = running
    wait_until(lambda: _failing_open(cli_json(d, "status", "--json")), 30)

    def same(fetch, cli, *volatile):
        # a check may land between the two reads: equal once no check did
        last = []

        def equal():
            a, b = _without(fetch(), *volatile), _without(cli(), *volatile)
            last[:] = [a, b]
            return a == b and a

        return wait_until(equal, 30, message=lambda: f"API {last[0]}\n!= CLI {last[1]}")

    status = same(
        lambda: get(d, "/api/v1/status").json(),
        lambda: cli_json(d, "status", "--json"),
        "age_s",
        "last_check_at",
        "latency_ms",
    )
    assert status["daemon"]["running"] is True
    db_row = next(c for c in status["components"] if c["component"] == "db")
    incident = db_row["incident_id"]
    assert _without(get(d, "/api/v1/components/db").json(), "age_s", "last_check_at", "latency_ms") == db_row
    # explain's window ends "now" while the incident is open, and checks go on: compare the rest
    explained = same(
        lambda: get(d, f"/api/v1/incidents/{incident}").json(),
        lambda: cli_json(d, "explain", "db", "--incident", str(incident), "--json"),
        "window",
        "checks",
    )
    assert explained["incident"]["id"] == incident and explained["transitions"]
    same(
        lambda: get(d, "/api/v1/views/active_circuit_breakers").json(),
        lambda: cli_json(d, "report", "active_circuit_breakers", "--format", "json"),
        "for_s",
        "remaining_s",
    )
    assert get(d, "/api/v1/components/nope").status_code == 404
    assert get(d, "/api/v1/views/nope").status_code == 400
    assert get(d, "/api/v1/incidents/999999").status_code == 404


def test_nothing_changes_state_and_healthz_reports_loop_and_writer(running):
    d = running
    health = get(d, "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["writer"]["ok"] and health.json()["loop"]["ok"]
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = httpx.request(method, d.url + "/api/v1/status", timeout=10, trust_env=False)
        assert r.status_code == 405, method
    big = httpx.post(d.url + "/metrics", content=b"x" * (1 << 20), timeout=10, trust_env=False)
    assert big.status_code in (405, 413)
    huge_header = httpx.get(d.url + "/metrics", headers={"X-Padding": "x" * 20_000}, timeout=10, trust_env=False)
    assert huge_header.status_code in (400, 431)
    assert get(d, "/healthz").status_code == 200  # and the service is still there


def test_metrics_textfile_is_written_atomically_and_parses(running, tmp_path):
    path = tmp_path / "healerd.prom"
    text = wait_until(lambda: path.exists() and "healerd_component_up" in (t := path.read_text()) and t, 20)
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"healerd_component_up", "healerd_checks", "healerd_breaker_state"} <= names
    assert not [p for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")]


def test_healthz_fails_while_the_writer_cannot_commit_and_recovers_after(running):
    import sqlite3

    d = running
    blocker = sqlite3.connect(d.db, timeout=30, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the writer's commits wait behind it
        stuck = wait_until(lambda: (r := get(d, "/healthz")).status_code == 503 and r, 30)
        assert stuck.json()["writer"]["ok"] is False and stuck.json()["loop"]["ok"] is True
        assert get(d, "/api/v1/status").status_code == 200  # readers are not blocked by the writer (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_until(lambda: get(d, "/healthz").status_code == 200, 30)


def test_a_reload_that_changes_http_settings_restarts_the_server_with_them(running, config_dir):
    import signal

    d = running
    assert 'content="5"' in get(d, "/").text
    config_dir.settings('[http]\nenabled = true\nport = 0\nrefresh = "7s"\n')
    d.signal(signal.SIGHUP)
    d.url = http_url(d, nth=2)
    assert 'content="7"' in get(d, "/").text
    assert get(d, "/healthz").status_code == 200


def test_the_textfile_needs_no_socket_at_all(config_dir, start_daemon, listener, free_port, tmp_path):
    config_dir.policy("a.toml", policies(listener().port, free_port()))
    path = tmp_path / "only.prom"
    config_dir.settings(f'[metrics]\ntextfile = "{path}"\ntextfile_every = "250ms"\n')
    d = start_daemon(config_dir)
    text = wait_until(
        lambda: path.exists() and 'healerd_component_up{component="db"}' in (t := path.read_text()) and t, 20
    )
    assert {f.name for f in text_string_to_metric_families(text)} >= {"healerd_component_state", "healerd_checks"}
    assert d.stop() == 0
    assert '"http listening"' not in d.log.read_text()
