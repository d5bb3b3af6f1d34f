"""Under systemd, every log line starts with its syslog priority `<N>`, so `journalctl -p` filters.

journald is simulated the way systemd announces it: `$JOURNAL_STREAM` holds the device and inode of
the file the process's stderr is connected to. A stderr that is not that stream gets no prefix.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import wait_until

PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
LINE = re.compile(r"^<([0-7])>(.*)$")


def journal_stream(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def prefixed(text: str) -> list[tuple[int, dict]]:
    """(priority, JSON record) per line; fails on any line journald would file at the default."""
    out = []
    for line in filter(str.strip, text.splitlines()):
        match = LINE.match(line)
        assert match, f"line without a <N> prefix: {line!r}"
        out.append((int(match.group(1)), json.loads(match.group(2))))
    return out


EMIT = textwrap.dedent("""
    import logging, structlog
    from daemon.logs import configure_logging
    configure_logging("debug", json={json})
    log = structlog.get_logger("daemon.test")
    for level in ("debug", "info", "warning", "error", "critical"):
        getattr(log, level)("at " + level)
    logging.getLogger("alembic.runtime").warning("a library record")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("with a traceback")
""")


def emit(tmp_path: Path, journal: str | None, json_format: bool = True) -> str:
    err = tmp_path / "stderr.log"
    err.touch()
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal is not None:
        env["JOURNAL_STREAM"] = journal_stream(err) if journal == "match" else journal
    with open(err, "w") as stderr:
        subprocess.run(
            [sys.executable, "-c", EMIT.format(json=json_format)], stderr=stderr, env=env, check=True, timeout=60
        )
    return err.read_text()


def test_on_the_journal_stream_each_line_carries_its_levels_syslog_priority(tmp_path):
    records = prefixed(emit(tmp_path, "match"))
    assert [(prio, r["event"]) for prio, r in records] == [
        (7, "at debug"),
        (6, "at info"),
        (4, "at warning"),
        (3, "at error"),
        (2, "at critical"),
        (4, "a library record"),
        (3, "with a traceback"),
    ]
    assert "ZeroDivisionError" in records[-1][1]["exception"]  # the JSON payload is kept whole


def test_a_console_traceback_on_the_journal_stream_is_prefixed_on_every_line(tmp_path):
    lines = [line for line in emit(tmp_path, "match", json_format=False).splitlines() if line.strip()]
    assert all(LINE.match(line) for line in lines), lines
    tail = lines[lines.index(next(line for line in lines if "with a traceback" in line)) :]
    assert len(tail) > 2 and all(line.startswith("<3>") for line in tail)  # journald reads line by line


def test_no_prefix_when_stderr_is_not_the_journal_stream(tmp_path):
    # JOURNAL_STREAM inherited but stderr redirected elsewhere (its inode differs), or no systemd at all
    for journal in ("1:1", None):
        text = emit(tmp_path, journal)
        assert not any(LINE.match(line) for line in text.splitlines())
        assert json.loads(text.splitlines()[0])["event"] == "at debug"


def test_the_daemon_under_journald_prefixes_info_warning_and_error_lines(config_dir, start_daemon, tmp_path, free_port):
    config_dir.policy(
        "down.toml",
        f"""
    [[component]]
    name = "down"
    [component.check]
    kind = "tcp"
    port = {free_port()}
    every = "200ms"
    [component.breaker]
    consecutive_failures = 1
    open_for = "60s"
    [[component.recovery]]
    strategy = "retry"
    action = {{ run = ["true"], timeout = "5s" }}
    """,
    )
    log = tmp_path / "daemon-0.log"  # the fixture's first daemon writes stdout and stderr here
    log.touch()
    daemon = start_daemon(config_dir, env={"JOURNAL_STREAM": journal_stream(log)})
    wait_until(lambda: "<4>" in log.read_text(), 30, message=lambda: log.read_text()[-2000:])  # incident opened
    config_dir.policy("bad.toml", "[[component]]\nname = 'x'\n")
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "<3>" in log.read_text(), 30, message=lambda: log.read_text()[-2000:])  # reload rejected
    assert daemon.stop() == 0
    records = prefixed(log.read_text())
    assert {prio for prio, _ in records} >= {6, 4, 3}
    for prio, record in records:
        assert prio == PRIORITY[record["level"]], record


def test_cannot_start_is_an_error_line_for_journald(config_dir, tmp_path):
    config_dir.policy("bad.toml", "[[component]]\nname = 'x'\n")
    err = tmp_path / "stderr.log"
    err.touch()
    with open(err, "w") as stderr:
        proc = subprocess.run(
            [sys.executable, "-m", "daemon", "run", "--config", str(config_dir.root), "--db", str(tmp_path / "h.db")],
            stderr=stderr,
            timeout=60,
            env={**os.environ, "JOURNAL_STREAM": journal_stream(err)},
        )
    assert proc.returncode == 3
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("<3>healerd: cannot start:"))
    assert lines[start + 1].startswith("<3>") and "bad.toml" in lines[start + 1]  # each line of it
    assert all(LINE.match(line) for line in lines), lines
