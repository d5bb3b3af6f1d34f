"""The status page, loaded from a running daemon in a real headless Chromium (Debian's `chromium`)."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess

import pytest
from http_kit import http_url, policies

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Chromium in its own process group, the whole group killed on timeout or when done."""
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # renderer and GPU helpers too
        except ProcessLookupError:
            pass
        proc.wait(10)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def rows_text(dom: str) -> list[str]:
    """Each table row's visible text, whitespace collapsed."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", dom, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", r)).split()) for r in rows]


@pytest.mark.slow
def test_status_page_in_headless_chromium_shows_the_failing_component(
    config_dir, start_daemon, listener, free_port, tmp_path
):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed here (.ci/run installs it with apt-get install -y chromium)")
    from helpers import wait_until

    web = listener()
    # db's one recovery step fails (so "last recovery" has something to show), and a flag that needs db
    # goes off (so "Disabled flags" has something to show).
    failing_step = (
        '[[component.recovery]]\nstrategy = "retry"\nattempts = 1\nwithin = "1h"\n'
        'action = { run = ["false"], timeout = "5s" }\n'
    )
    config_dir.policy("a.toml", policies(web.port, free_port()) + failing_step)
    config_dir.settings(
        '[http]\nenabled = true\nport = 0\nrefresh = "5s"\n'
        '[[degradation.flag]]\nname = "checkout"\noff_at = "reduced"\ncomponents = ["db"]\n'
    )
    d = start_daemon(config_dir)
    url = http_url(d)
    wait_until(lambda: d.query("SELECT count(*) FROM incidents WHERE status = 'open'")[0][0] == 1, 30)
    wait_until(lambda: d.query("SELECT count(*) FROM recovery_events WHERE status = 'failed'")[0][0] >= 1, 30)
    wait_until(lambda: d.query("SELECT count(*) FROM feature_flags WHERE enabled = 0")[0][0] >= 1, 30)
    # the availability bars read the rollups, which count results every 10 s
    wait_until(lambda: d.query("SELECT count(DISTINCT component_id) FROM result_rollups_hourly")[0][0] == 2, 30)

    dump = chromium(tmp_path, "--dump-dom", url + "/")
    assert dump.returncode == 0, dump.stderr[-2000:]
    rows = rows_text(dump.stdout)
    db_row = next(r for r in rows if r.startswith("db "))
    assert "unhealthy" in db_row and "open" in db_row and "refused" in db_row and "#1" in db_row
    web_row = next(r for r in rows if r.startswith("web "))
    assert "healthy" in web_row and "closed" in web_row
    assert 'http-equiv="refresh" content="5"' in dump.stdout
    assert "retry failed" in db_row  # last recovery
    assert db_row.endswith("0.0 % 0.0 %") and web_row.endswith("100.0 % 100.0 %")  # 24 h, 7 d from rollups
    bars = re.findall(r'<div class="bar" title="(24 h|7 d): [^"]*">(.*?)</div>', dump.stdout, flags=re.S)
    assert sorted(len(re.findall(r"<span", cells)) for _, cells in bars) == [7, 7, 24, 24]  # hours and days
    assert "Disabled flags" in dump.stdout and "checkout" in dump.stdout
    recent = next(r for r in rows if r.startswith("#1 "))  # recent incidents, linking to the timeline
    assert "db" in recent and "open" in recent and 'href="incidents/1"' in dump.stdout
    assert "emergency" in dump.stdout or "minimal" in dump.stdout  # the level: one of two components is down

    shot = tmp_path / "status.png"  # a phone-sized viewport
    taken = chromium(tmp_path, f"--screenshot={shot}", "--window-size=412,915", "--hide-scrollbars", url + "/")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    incident = chromium(tmp_path, "--dump-dom", url + "/incidents/1")
    timeline = " ".join(rows_text(incident.stdout))
    assert "closed → open" in timeline and "refused" in timeline
    assert d.stop() == 0
