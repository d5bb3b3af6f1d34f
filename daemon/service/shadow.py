"""Shadow mode (`healerd run --shadow DIR`): a second policy set decides alongside the live one.

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
from pathlib import Path

import structlog

from daemon.config.loader import load_config
from daemon.engine.replay import Replay
from daemon.errors import StartupError
from daemon.store import replay_sql
from daemon.service.tasks import cancel_and_wait
from daemon.types import CheckResult

log = structlog.get_logger(__name__)

TICK_S = 0.5


class ShadowService:
    def __init__(self, runtime, directory: Path) -> None:
        self.rt = runtime
        self.directory = Path(directory).absolute()
        self.replay: Replay | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        loaded, problems = await asyncio.to_thread(load_config, self.directory)
        if loaded is None or problems:
            detail = "\n".join(f"  {p}" for p in problems) or "  (no detail)"
            raise StartupError(f"invalid shadow configuration in {self.directory}:\n{detail}")
        self.replay = Replay(loaded.config, None)
        live = set(self.rt.config.components)
        unknown = sorted(set(loaded.config.components) - live)
        if unknown:
            log.warning("shadow components without live results are never decided", components=unknown)
        self.rt.monitor.result_listeners.append(self._on_result)
        self._task = asyncio.create_task(self._loop(), name="shadow")
        log.info("shadow policy set deciding alongside", shadow=str(self.directory),
                 components=len(loaded.config.components))

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], what="shadow loop")
        self._flush()

    def _on_result(self, result: CheckResult) -> None:
        if self.replay is None:
            return
        try:
            self.replay.feed(result.component, result.ts, result.status.value, result.error_class,
                             bool(getattr(result, "maintenance", False)))
            self._flush()
        except Exception:  # the shadow must never hurt the live daemon
            log.exception("shadow decision failed", component=result.component)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.replay.advance(self.rt.clock.wall())
                self._flush()
            except Exception:
                log.exception("shadow pass failed")

    def _flush(self) -> None:
        if self.replay is None:
            return
        drained = self.replay.drain()
        if not drained:
            return
        ids = self.rt.monitor.component_ids
        config = str(self.directory)
        rows = [(ids[name], d["ts"], config, d["incident"], d["kind"], d["step"], d["strategy"], d["reason"],
                 d.get("until")) for name, decisions in drained.items() if name in ids for d in decisions]
        if not rows:
            return

        future = self.rt.writer.submit(lambda conn: replay_sql.insert_shadow_decisions(conn, rows))
        future.add_done_callback(_log_failure)


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("writing shadow decisions failed", error=str(future.exception()))
