"""Every log line names its own component and incident, even while two recoveries run at once.

The healer binds component/incident to the logging context during a recovery; scheduler timers armed
from inside that context (the fast cadence) used to carry it into every later job, so check lines of
one component named another component's incident.
"""

from __future__ import annotations

import json
import sys

from helpers import wait_until

FIXER = "import sys, time; time.sleep(0.8); open(sys.argv[1], 'w').write('ok')"


def _component(name: str, path, fix: bool) -> str:
    recovery = (
        f"""
    [[component.recovery]]
    strategy = "retry"
    action = {{ run = ["{sys.executable}", "-c", "{FIXER}", "{path}"], timeout = "10s" }}
    attempts = 3
    within = "10m"
    backoff = {{ initial = "100ms", max = "200ms", jitter = "none" }}
    verify_within = "10s"
    """
        if fix
        else ""
    )
    return f"""
    [[component]]
    name = "{name}"
    [component.check]
    kind = "file"
    path = "{path}"
    every = "200ms"
    timeout = "150ms"
    [component.breaker]
    consecutive_failures = 2
    open_for = "1s"
    half_open_successes = 1
    {recovery}
    """


def test_two_concurrent_recoveries_never_lend_their_incident_to_other_lines(config_dir, start_daemon, tmp_path):
    config_dir.settings('[daemon]\nlog_level = "debug"\ncooldown = "1s"\nfast_every = "200ms"\n')
    steady = tmp_path / "steady.flag"
    steady.write_text("ok")
    config_dir.policy(
        "a.toml",
        _component("a", tmp_path / "a.flag", True)
        + _component("b", tmp_path / "b.flag", True)
        + _component("steady", steady, False),
    )
    d = start_daemon(config_dir)

    def healed() -> bool:
        rows = d.query(
            "SELECT c.name FROM recovery_events r JOIN components c ON c.id = r.component_id "
            "WHERE r.status = 'succeeded'"
        )
        return {r[0] for r in rows} >= {"a", "b"}

    wait_until(healed, 60, message=lambda: d.log.read_text()[-3000:])
    started = {r[0] for r in d.query("SELECT started_at FROM recovery_events")}
    assert len(started) == 2
    # checks of every component keep running after the recoveries: their lines must be clean too
    mark = len(d.log.read_text().splitlines())
    wait_until(lambda: sum('"steady"' in ln for ln in d.log.read_text().splitlines()[mark:]) >= 5, 30)
    d.stop()

    incidents = {
        (name, iid)
        for iid, name in d.query("SELECT i.id, c.name FROM incidents i JOIN components c ON c.id = i.component_id")
    }
    assert {name for name, _ in incidents} == {"a", "b"}
    lines = [json.loads(line) for line in d.log.read_text().splitlines() if line.startswith("{")]
    with_incident = [ln for ln in lines if ln.get("incident") is not None]
    assert with_incident, "no line names an incident at all"
    wrong = [ln for ln in with_incident if (ln.get("component"), ln["incident"]) not in incidents]
    assert not wrong, f"{len(wrong)} of {len(lines)} lines carry another component's incident: {wrong[:3]}"
    steady_lines = [ln for ln in lines if ln.get("component") == "steady"]
    assert steady_lines and all("incident" not in ln for ln in steady_lines)
