"""Shadow mode (`healerd run --shadow DIR`, or a component's `shadow_config = "DIR"`): a second policy
set decides alongside the live one.

It sees exactly the live results (a listener on the monitor) and decides with the daemon's own breaker,
decide() and ladder (engine/replay.py, fed live instead of from history), but nothing it decides is
executed: its decisions go to `shadow_decisions`, and the view `shadow_decision_comparison` sets them
beside the live ones. A shadow action is judged the way the daemon's verifier judges a real one — healed
when a check passing after its start arrives within `verify_within` — though the world it sees is the
one the *live* policy shaped (the shadow's own actions never ran): say so when reading the comparison.

Bounded: decisions are written and dropped from memory as they come, old shadow incidents forgotten.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.clock import Clock
from daemon.config.loader import load_config
from daemon.engine.replay import Replay, closure
from daemon.errors import StartupError
from daemon.service.monitor import Monitor
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import ConfigGetter, Store
from daemon.store import replay_sql
from daemon.types import CheckResult

log = structlog.get_logger(__name__)

TICK_S = 0.5


@dataclass
class _Shadow:
    directory: str
    replay: Replay
    #: the components whose decisions are recorded (None: all of the shadow set's)
    only: frozenset[str] | None


def sources(directory: Path | None, config) -> dict[str, set[str] | None]:
    """Shadow directory → the live components it decides for (None: every one): `--shadow DIR` and each
    component's `shadow_config`."""
    out: dict[str, set[str] | None] = {}
    if directory is not None:
        out[str(Path(directory).absolute())] = None
    for name, component in config.components.items():
        if component.shadow_config is not None:
            chosen = out.setdefault(str(Path(component.shadow_config).absolute()), set())
            if chosen is not None:
                chosen.add(name)
    return out


class ShadowService:
    def __init__(
        self, *, config: ConfigGetter, clock: Clock, store: Store, monitor: Monitor, directory: Path | None = None
    ) -> None:
        self._config = config
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.directory = directory
        self.shadows: list[_Shadow] = []
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        for directory, only in sources(self.directory, self._config()).items():
            loaded, problems = await asyncio.to_thread(load_config, Path(directory))
            if loaded is None or problems:
                detail = "\n".join(f"  {p}" for p in problems) or "  (no detail)"
                raise StartupError(f"invalid shadow configuration in {directory}:\n{detail}")
            config = loaded.config
            if only is not None:
                missing = sorted(only - set(config.components))
                if missing:
                    raise StartupError(f"shadow_config {directory} has no component {', '.join(missing)}")
                keep = closure(config, only)
                config = config.model_copy(update={"components": {n: config.components[n] for n in keep}})
            self.shadows.append(_Shadow(directory, Replay(config, None), None if only is None else frozenset(only)))
            log.info(
                "shadow policy set deciding alongside",
                shadow=directory,
                components=sorted(only) if only is not None else len(config.components),
            )
        self.monitor.result_listeners.append(self._on_result)
        self._task = asyncio.create_task(self._loop(), name="shadow")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], what="shadow loop")
        self._flush()

    def _on_result(self, result: CheckResult) -> None:
        for shadow in self.shadows:
            try:
                shadow.replay.feed(
                    result.component,
                    result.ts,
                    result.status.value,
                    result.error_class,
                    bool(getattr(result, "maintenance", False)),
                )
            except Exception:  # the shadow must never hurt the live daemon
                log.exception("shadow decision failed", component=result.component, shadow=shadow.directory)
        self._flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                for shadow in self.shadows:
                    shadow.replay.advance(self.clock.wall())
                self._flush()
            except Exception:
                log.exception("shadow pass failed")

    def _flush(self) -> None:
        ids = self.monitor.component_ids
        rows: list[tuple[Any, ...]] = []
        for shadow in self.shadows:
            for name, decisions in shadow.replay.drain().items():
                if name not in ids or (shadow.only is not None and name not in shadow.only):
                    continue
                rows.extend(
                    (
                        ids[name],
                        d["ts"],
                        shadow.directory,
                        d["incident"],
                        d["kind"],
                        d["step"],
                        d["strategy"],
                        d["reason"],
                        d.get("until"),
                    )
                    for d in decisions
                )
        if rows:
            future = self.store.submit(lambda conn: replay_sql.insert_shadow_decisions(conn, rows))
            future.add_done_callback(_log_failure)


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("writing shadow decisions failed", error=str(future.exception()))
