"""The I/O half of `healerd check --simulate`: read the systemd units the actions restart, print findings.

The rules and scenarios are pure (engine/simulate.py). Here: `systemctl show` for every unit an action
restarts (bounded by a timeout; skipped with a note when systemd is absent, as in a container or CI),
and the report: one line per finding, problems first marked `problem:`, exit status 1 when any.
"""

from __future__ import annotations

import shutil
import subprocess

import click

from daemon.engine import simulate as sim

SHOW_TIMEOUT_S = 5.0
PROPERTIES = "StartLimitBurst,StartLimitIntervalUSec,Restart"


def systemd_absent_reason() -> str | None:
    """Why units cannot be read here (None when they can): no systemctl, or not booted with systemd."""
    from pathlib import Path

    if shutil.which("systemctl") is None:
        return "systemctl not found"
    if not Path("/run/systemd/system").is_dir():
        return "the system was not booted with systemd"
    return None


def show_unit(unit: str) -> dict[str, str] | None:
    try:
        done = subprocess.run(
            ["systemctl", "show", unit, f"--property={PROPERTIES}"],
            capture_output=True,
            text=True,
            timeout=SHOW_TIMEOUT_S,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sim.parse_show(done.stdout) if done.returncode == 0 else None


def simulate_config(
    config, escalate_within: float = sim.MINUTES_10, *, absent: str | None = "auto", show=show_unit
) -> int:
    """Print the findings; returns the exit status (1 when any problem)."""
    findings = sim.verify_windows(config) + sim.dependency_restarts(config)
    units = sorted({unit for _, _, _, unit in sim.unit_actions(config)})
    reason = systemd_absent_reason() if absent == "auto" else absent
    notes = []
    if units and reason is not None:
        notes.append(f"note: systemd unit limits not checked ({reason}): {', '.join(units)}")
    elif units:
        findings += sim.unit_limits(config, {unit: show(unit) for unit in units})
    findings += sim.scenarios(config, escalate_within)
    problems = [f for f in findings if f.problem]
    for f in problems:
        click.echo(f"problem: {f}")
    for f in findings:
        if not f.problem:
            click.echo(f"  {f}")
    for note in notes:
        click.echo(note)
    click.echo(
        f"simulated {len(config.components)} components: "
        + (f"{len(problems)} problem(s)" if problems else "no problem found")
    )
    return 1 if problems else 0
