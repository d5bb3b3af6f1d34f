"""The published state file: its shape, its location, and that no reader ever sees half of it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.config.models import Degradation
from daemon.engine.degradation import Override
from daemon.engine.flags import FlagState
from daemon.engine.publish import publish_state, remove_stale_temps, state_document, state_file_path, write_atomic
from daemon.engine.trend import Trend
from daemon.types import Level

# A separate process polls the file as an application would: read, parse, repeat. It reports the
# first unparsable read to a marker file at once, and its totals when told to stop.
READER = r"""
import json, os, sys
path, stop, ready, marker, out = sys.argv[1:6]
reads = invalid = 0
seen = set()
last = None

def read_once():
    global reads, invalid, last
    with open(path, "rb") as fh:
        raw = fh.read()
    reads += 1
    try:
        doc = json.loads(raw)
    except ValueError:
        invalid += 1
        if not os.path.exists(marker):
            with open(marker, "wb") as fh:
                fh.write(raw[:200])
        return
    last = doc["updated_at"]
    seen.add(last)

read_once()
open(ready, "w").close()
while not os.path.exists(stop):
    read_once()
read_once()  # one look after the writer finished
with open(out, "w") as fh:
    json.dump({"reads": reads, "invalid": invalid, "distinct": len(seen), "last": last}, fh)
"""


def wait_until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def document(i: int) -> dict:
    # The size swings between ~100 bytes and ~10 kB (several pages) so a torn write would show as bad JSON.
    flags = {f"feature_{n:04d}": (n + i) % 3 != 0 for n in range(0 if i % 2 else 300)}
    override = (
        Override(Level.MINIMAL, 1_800_003_600.0, "maintenance " * (i % 7), 1_800_000_000.0) if i % 5 == 0 else None
    )
    return state_document(
        level=Level.REDUCED,
        score=71.25,
        unknown=i % 3,
        trend=Trend.DECLINING,
        flags=flags,
        override=override,
        updated_at=float(i),
    )


@pytest.fixture
def reader(tmp_path):
    target = tmp_path / "run" / "state.json"
    files = {k: tmp_path / k for k in ("stop", "ready", "marker", "out")}
    procs = []

    def start():
        script = tmp_path / "reader.py"
        script.write_text(READER)
        argv = [sys.executable, str(script), str(target)] + [str(files[k]) for k in ("stop", "ready", "marker", "out")]
        proc = subprocess.Popen(argv, start_new_session=True)
        procs.append(proc)
        wait_until(lambda: files["ready"].exists() or proc.poll() is not None, what="reader ready")
        assert proc.poll() is None, "reader died before it was ready"
        return proc

    yield target, files, start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


@pytest.mark.slow  # ~2,000 × (two fsyncs) against a busy reader: ~5–20 s on a small VM
def test_a_reader_polling_during_2000_updates_never_sees_a_partial_file(reader):
    target, files, start = reader
    publish_state(target, document(0))
    proc = start()
    for i in range(1, 2001):
        publish_state(target, document(i))
    files["stop"].touch()
    proc.wait(timeout=30)
    result = json.loads(files["out"].read_text())
    assert not files["marker"].exists(), files["marker"].read_bytes() if files["marker"].exists() else None
    assert result["invalid"] == 0
    assert result["distinct"] >= 2  # it saw updates happen, not one frozen file
    assert result["last"] == 2000.0  # and the final state
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]  # no temp files left


def test_the_reader_does_catch_a_writer_that_is_not_atomic(reader):
    # The control: the same reader against a plain truncate-and-write does see torn files, so the
    # test above would fail if publish_state wrote in place.
    target, files, start = reader
    publish_state(target, document(0))
    proc = start()
    deadline = time.monotonic() + 30
    i = 0
    while not files["marker"].exists() and time.monotonic() < deadline:
        payload = json.dumps(document(i)).encode()
        with open(target, "wb") as fh:
            for k in range(0, len(payload), 4096):
                fh.write(payload[k : k + 4096])
                fh.flush()
        i += 1
    files["stop"].touch()
    proc.wait(timeout=30)
    assert files["marker"].exists(), f"no torn read seen in {i} non-atomic writes"


def test_the_document_has_the_published_keys_and_plain_values():
    doc = state_document(
        level=Level.MINIMAL,
        score=62.5,
        unknown=2,
        trend=Trend.IMPROVING,
        flags={"search": FlagState(False, "level minimal ≥ off_at reduced"), "login": True},
        override=Override(Level.MINIMAL, 1_800_003_600.0, "migration", 1_800_000_000.0),
        updated_at=1_800_000_123.5,
    )
    assert doc == {
        "version": 1,
        "level": "minimal",
        "score": 62.5,
        "unknown": 2,
        "trend": "improving",
        "flags": {"search": False, "login": True},
        "override": {"level": "minimal", "until": 1_800_003_600.0, "reason": "migration"},
        "updated_at": 1_800_000_123.5,
    }
    undefined = state_document(
        level=Level.FULL, score=None, unknown=3, trend=Trend.STABLE, flags={}, override=None, updated_at=1.0
    )
    assert undefined["score"] is None and undefined["override"] is None


def test_the_file_round_trips_and_is_readable_by_other_users(tmp_path):
    target = tmp_path / "nested" / "dir" / "state.json"
    doc = document(5)
    publish_state(target, doc)
    assert json.loads(target.read_text("utf-8")) == doc
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temp_behind(tmp_path):
    target = tmp_path / "state.json"
    publish_state(target, document(1))
    with pytest.raises(ValueError):
        publish_state(target, {"score": float("nan")})  # not JSON: refused before touching the file
    blocker = tmp_path / "blocked.json"
    blocker.mkdir()
    (blocker / "x").touch()
    with pytest.raises(OSError):
        write_atomic(blocker, b"{}")  # rename over a non-empty directory fails
    assert json.loads(target.read_text())["updated_at"] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked.json", "state.json"]


def test_stale_temps_from_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    target = tmp_path / "state.json"
    publish_state(target, document(1))
    (tmp_path / ".state.json.abc123.tmp").write_text("{")
    (tmp_path / "other.tmp").write_text("keep")
    removed = remove_stale_temps(target)
    assert [p.name for p in removed] == [".state.json.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.tmp", "state.json"]


def test_the_state_file_defaults_to_the_runtime_directory(tmp_path):
    assert state_file_path(Degradation(), env={}) == Path("/run/healerd/state.json")
    env = {"RUNTIME_DIRECTORY": f"{tmp_path}/rt:/other"}
    assert state_file_path(Degradation(), env=env) == tmp_path / "rt" / "state.json"
    assert state_file_path(Degradation(state_file="custom.json"), env=env) == tmp_path / "rt" / "custom.json"
    assert (
        state_file_path(Degradation(state_file="/srv/app/healerd.json"), env=env).as_posix() == "/srv/app/healerd.json"
    )


def test_without_a_runtime_directory_the_state_file_sits_next_to_the_database(tmp_path):
    """Not /run/healerd/state.json for every instance on the host (shared, and not writable as non-root)."""
    db = tmp_path / "example.db"
    assert state_file_path(Degradation(), env={}, db_path=db) == tmp_path / "example.state.json"
    assert state_file_path(Degradation(state_file="custom.json"), env={}, db_path=db) == tmp_path / "custom.json"
    env = {"RUNTIME_DIRECTORY": f"{tmp_path}/rt"}
    assert state_file_path(Degradation(), env=env, db_path=db) == tmp_path / "rt" / "state.json"
