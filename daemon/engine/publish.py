"""Publish the degradation state as a JSON file that applications poll.

Applications read this file on their own schedule, so they must never see half of it: the document is
written to a temporary file in the same directory (same filesystem, so the rename is atomic), fsynced,
renamed over the old one, and the directory fsynced so the rename itself survives a power cut. A reader
sees either the old document or the new one, never a mix. The file is made world-readable (0644)
because the readers are other services; it holds nothing secret.

Times are wall-clock UTC unix seconds, as everywhere healerd stores time. I/O errors (OSError)
propagate: the caller logs them and carries on, because failing to publish must not stop healing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.config.models import Degradation
from daemon.engine.degradation import Override
from daemon.engine.flags import FlagState
from daemon.engine.trend import Trend
from daemon.paths import default_runtime_dir
from daemon.types import Level

STATE_FILE_NAME = "state.json"
#: bumped when a key changes meaning, so applications can refuse a document they do not understand.
DOCUMENT_VERSION = 1


def state_file_path(config: Degradation, env: Mapping[str, str] | None = None, db_path: Path | None = None) -> Path:
    """`degradation.state_file` if set, else `$RUNTIME_DIRECTORY/state.json` under systemd, else next to
    the database (`example.db` → `example.state.json`).

    Not /run/healerd outside systemd: every instance on a host would share (and fight over) one file,
    and a non-root daemon cannot write there at all. A relative `state_file` is taken inside the same
    directory.
    """
    env = os.environ if env is None else env
    if env.get("RUNTIME_DIRECTORY") or db_path is None:
        base = default_runtime_dir(dict(env))
        default = base / STATE_FILE_NAME
    else:
        base = Path(db_path).absolute().parent
        default = base / (Path(db_path).stem + "." + STATE_FILE_NAME)
    if config.state_file:
        return base / config.state_file
    return default


def state_document(
    *,
    level: Level,
    score: float | None,
    unknown: int,
    trend: Trend,
    flags: Mapping[str, FlagState | bool],
    override: Override | None,
    updated_at: float,
) -> dict[str, Any]:
    """The published JSON shape; flags are plain booleans (reasons live in the database and `status`)."""
    return {
        "version": DOCUMENT_VERSION,
        "level": Level(level).value,
        "score": score,
        "unknown": unknown,
        "trend": Trend(trend).value,
        "flags": {
            name: bool(state.enabled if isinstance(state, FlagState) else state) for name, state in flags.items()
        },
        "override": None
        if override is None
        else {"level": override.level.value, "until": override.until, "reason": override.reason},
        "updated_at": updated_at,
    }


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that no reader ever sees a partial file (see module doc)."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)  # mkstemp makes 0600; readers are other users' services
            os.fsync(out.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename itself is durable
    finally:
        os.close(dir_fd)


def publish_state(path: Path, document: Mapping[str, Any]) -> None:
    payload = json.dumps(document, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
    write_atomic(path, payload.encode("utf-8"))


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files a killed writer left next to `path`; call once at start-up, before publishing."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed
