"""systemd checks against a fake `systemctl` first on PATH (no unit can run in this sandbox)."""

from __future__ import annotations

import stat

import pytest

from daemon.engine.checks import run_check
from daemon.engine.checks import systemd as systemd_mod
from daemon.types import Status


@pytest.fixture
def fake_systemctl(tmp_path, monkeypatch):
    """Installs `systemctl` printing the state named in `<tmp>/state.<unit>`; logs its argv."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/calls\n'
        '[ "$1" = is-active ] || exit 64\n'
        f'state=$(cat "{tmp_path}/state.$3" 2>/dev/null) || {{ echo "Failed to connect to bus" >&2; exit 1; }}\n'
        'echo "$state"\n'
        '[ "$state" = active ] && exit 0\n'
        "exit 3\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.delenv(systemd_mod.ENV_VAR, raising=False)

    def set_state(unit: str, state: str) -> None:
        (tmp_path / f"state.{unit}").write_text(state + "\n")

    set_state.calls = tmp_path / "calls"  # type: ignore[attr-defined]
    return set_state


@pytest.mark.parametrize(
    ("state", "status", "error_class"),
    [
        ("active", Status.HEALTHY, None),
        ("activating", Status.DEGRADED, None),
        ("reloading", Status.DEGRADED, None),
        ("inactive", Status.UNHEALTHY, "not_running"),
        ("failed", Status.UNHEALTHY, "not_running"),
        ("deactivating", Status.UNHEALTHY, "not_running"),
    ],
)
async def test_unit_state_maps_to_status(fake_systemctl, component, state, status, error_class):
    fake_systemctl("web.service", state)
    result = await run_check(component("systemd", unit="web.service"))
    assert (result.status, result.error_class) == (status, error_class)
    assert result.message == f"web.service is {state}"


async def test_unit_name_is_passed_after_double_dash(fake_systemctl, component):
    fake_systemctl("web.service", "active")
    await run_check(component("systemd", unit="web.service"))
    assert fake_systemctl.calls.read_text() == "is-active -- web.service\n"


async def test_systemctl_that_cannot_answer_is_unknown(fake_systemctl, component):
    result = await run_check(component("systemd", unit="nothing.service"))
    assert (result.status, result.error_class) == (Status.UNKNOWN, "error")
    assert "Failed to connect to bus" in result.message


async def test_systemctl_path_comes_from_the_environment(tmp_path, monkeypatch, component):
    other = tmp_path / "my-systemctl"
    other.write_text("#!/bin/sh\necho active\n")
    other.chmod(0o755)
    monkeypatch.setenv(systemd_mod.ENV_VAR, str(other))
    result = await run_check(component("systemd", unit="x.service"))
    assert result.status is Status.HEALTHY


async def test_hanging_systemctl_times_out(tmp_path, monkeypatch, component):
    other = tmp_path / "slow-systemctl"
    other.write_text("#!/bin/sh\nexec sleep 300\n")
    other.chmod(0o755)
    monkeypatch.setenv(systemd_mod.ENV_VAR, str(other))
    result = await run_check(component("systemd", unit="x.service", timeout="300ms"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "timeout")
