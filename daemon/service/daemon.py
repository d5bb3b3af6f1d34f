"""The daemon's lifecycle: start, run until told to stop, reload on SIGHUP or a config change, stop cleanly.

Start-up order matters: migrate the database, load the config, open the writer, restore persisted
state (breakers, ladders, overrides), and only then schedule checks and tell systemd READY=1 — so a
service that depends on healerd never sees it "ready" with amnesia. Anything that fails before READY is
a StartupError (exit 3: systemd's RestartPreventExitStatus stops a restart loop that cannot succeed).
After READY, nothing an operator can do to a file or the database makes the daemon exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from daemon.clock import SYSTEM_CLOCK, Clock
from daemon.config.loader import load_config
from daemon.errors import StartupError
from daemon.service.memory import settle
from daemon.service.sdnotify import Notifier, watchdog_loop
from daemon.service.tasks import cancel_and_wait

if TYPE_CHECKING:  # imported in start(): `healerd --help` must not pay for the whole service
    from daemon.service.runtime import Runtime

log = structlog.get_logger(__name__)

MIGRATE_TIMEOUT_S = 300.0


async def migrate_in_child(db_path: Path, *, force: bool = False) -> None:
    """Run `healerd migrate` in a child process, so Alembic never lives in the daemon's memory.

    Alembic, Mako and the parsed scripts stayed resident for the daemon's whole life (~14 MB) after a
    migration it needed once. The child is bounded, in its own process group, killed as a group on
    timeout; its error message becomes the StartupError's.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon",
        "migrate",
        "--db",
        str(db_path),
        *(["--force"] if force else []),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(MIGRATE_TIMEOUT_S):
            _, err = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise StartupError(f"cannot migrate the database {db_path}: no result within {MIGRATE_TIMEOUT_S:g}s") from None
    if proc.returncode != 0:
        detail = " ".join(err.decode(errors="replace").split()) or f"exit code {proc.returncode}"
        raise StartupError(f"cannot migrate the database {db_path}: {detail}")


@dataclass
class DaemonOptions:
    config_dir: Path
    db_path: Path
    clock: Clock = SYSTEM_CLOCK
    #: None: follow the daemon settings (watch_config); False in tests that want explicit reloads only.
    watch_config: bool | None = None
    env: dict[str, str] | None = None
    #: add healerd's schema even to a SQLite file that holds another application's tables (`run --force`).
    force_db: bool = False
    extra: dict = field(default_factory=dict)


def load_valid_config(directory: Path):
    """The loaded config directory, or a StartupError listing every problem (exit 3)."""
    loaded, problems = load_config(directory)
    if loaded is None or problems:
        detail = "\n".join(f"  {p}" for p in problems) or "  (no detail)"
        raise StartupError(f"invalid configuration in {directory}:\n{detail}")
    return loaded


class Daemon:
    def __init__(self, options: DaemonOptions, notifier: Notifier | None = None) -> None:
        self.options = options
        self.notifier = notifier or Notifier(options.env)
        self._stop = asyncio.Event()
        self._reload_requested = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.runtime: Runtime | None = None  # the Runtime built at start-up (service/runtime.py)
        #: READY=1 was sent: `healerd run` undoes what it noted for a daemon that never got here.
        self.became_ready = False

    # --- signals -------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload_requested.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Everything up to READY=1. Raises StartupError; leaves nothing running if it does."""
        from daemon.service.runtime import Runtime
        from daemon.store.revision import at_head

        # The config first: an invalid directory must not leave a new, empty database behind.
        loaded = load_valid_config(self.options.config_dir)

        if not await asyncio.to_thread(at_head, self.options.db_path):
            self.notifier.extend_timeout(MIGRATE_TIMEOUT_S)  # migrations on a big database may take a while
            await migrate_in_child(self.options.db_path, force=self.options.force_db)
        await asyncio.to_thread(self._record_instance, True)

        runtime = self.runtime = Runtime(self.options, loaded, notifier=self.notifier)
        try:
            await runtime.start()
        except Exception:
            with contextlib.suppress(Exception):
                await runtime.stop(grace=1.0)
            raise

    @property
    def started(self) -> Runtime:
        """The runtime, once `start()` built it."""
        if self.runtime is None:
            raise RuntimeError("the daemon has not started")
        return self.runtime

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, stop. Returns the exit code (0 after a clean stop)."""
        await self.start()
        self._install_signals()
        self._tasks.append(
            asyncio.create_task(watchdog_loop(self.notifier, alive=self.started.scheduler.alive), name="watchdog")
        )
        self._tasks.append(asyncio.create_task(self._reload_loop(), name="reload"))
        watch = self.options.watch_config
        if watch is None:
            watch = self.started.config.settings.daemon.watch_config
        if watch:
            self._tasks.append(asyncio.create_task(self._watch_loop(), name="config-watch"))
        settle()  # start-up's garbage back to the system before READY
        self.notifier.ready(self.started.status_line())
        self.became_ready = True
        log.info(
            "healerd ready",
            config=str(self.options.config_dir),
            db=str(self.options.db_path),
            components=len(self.started.config.components),
        )
        try:
            await self._stop.wait()
        finally:
            self._remove_signals()
            await self.stop()
        return 0

    async def stop(self) -> None:
        self.notifier.stopping()
        log.info("healerd stopping")
        await cancel_and_wait(self._tasks, what="daemon loops")
        self._tasks.clear()
        if self.runtime is not None:
            await self.runtime.stop(grace=self.runtime.config.settings.daemon.shutdown_grace.total_seconds())
        self.notifier.close()
        with contextlib.suppress(Exception):  # a full or locked database must not turn a stop into a crash
            await asyncio.to_thread(self._record_instance, False)
        log.info("healerd stopped")

    def _record_instance(self, starting: bool) -> None:
        """daemon_info: the CLI finds this daemon's config directory there (no --config needed)."""
        import os
        import socket

        from daemon import __version__
        from daemon.store import daemon_info_sql
        from daemon.store.oneshot import run_in_transaction

        now = self.options.clock.wall()
        if starting:
            run_in_transaction(
                self.options.db_path,
                lambda conn: daemon_info_sql.record_start(
                    conn,
                    config_dir=str(Path(self.options.config_dir).resolve()),
                    db_path=str(Path(self.options.db_path).resolve()),
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    version=__version__,
                    now=now,
                ),
            )
        else:
            run_in_transaction(
                self.options.db_path, lambda conn: daemon_info_sql.record_stop(conn, pid=os.getpid(), now=now)
            )

    # --- reload --------------------------------------------------------------------------------------

    async def _reload_loop(self) -> None:
        while True:
            await self._reload_requested.wait()
            self._reload_requested.clear()
            self.notifier.reloading()
            try:
                await self.started.reload()
            except Exception:  # a reload must never take the daemon down
                log.exception("reload failed; the previous configuration stays in force")
            settle()
            self.notifier.ready(self.started.status_line())

    async def _watch_loop(self) -> None:
        """Any change in the config directory reloads it, debounced (editors write files in bursts).

        The watcher only listens once its task has run, which is after READY: a change made in that
        gap is caught by comparing the directory with what was loaded on the watcher's first tick.
        If inotify is unavailable (e.g. its instance limit is reached), it falls back to polling.
        """
        from watchfiles import awatch

        from daemon.config.files import is_config_path
        from daemon.config.loader import changed_on_disk

        debounce_ms = int(self.started.config.settings.daemon.reload_debounce.total_seconds() * 1000)
        force_polling = False
        while not self._stop.is_set():
            if force_polling:
                await self._poll_loop()
                return
            checked = False
            try:
                async for changes in awatch(
                    self.options.config_dir,
                    debounce=max(debounce_ms, 50),
                    step=50,
                    recursive=True,
                    stop_event=self._stop,
                    yield_on_timeout=True,
                    rust_timeout=500,
                    force_polling=force_polling,
                    poll_delay_ms=500,
                    # services may keep pidfiles and logs under the config dir (the examples do): only
                    # files the loader reads trigger a reload
                    watch_filter=lambda _change, path: is_config_path(self.options.config_dir, path),
                ):
                    if changes:
                        log.info("config directory changed; reloading")
                        self.request_reload()
                    elif not checked:
                        checked = True
                        if await asyncio.to_thread(changed_on_disk, self.started.loaded):
                            log.info("config changed while the watcher was starting; reloading")
                            self.request_reload()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("config watcher failed; polling the directory instead", exc_info=True)
                force_polling = True
                self.request_reload()  # whatever broke the watcher was a change it did not report

    async def _poll_loop(self, every: float = 0.5) -> None:
        """The watcher's fallback: compare the directory's signature every `every` seconds.

        Our own loop rather than watchfiles' polling mode, which fails on a file name that is not valid
        UTF-8 just like its inotify mode does (issue 16); names are compared as bytes here.
        """
        from daemon.config.loader import directory_signature

        before = await asyncio.to_thread(directory_signature, self.options.config_dir)
        while not self._stop.is_set():
            await asyncio.sleep(every)
            try:
                now = await asyncio.to_thread(directory_signature, self.options.config_dir)
            except Exception:  # never let the watcher die: SIGHUP is the only other way to reload
                log.exception("polling the config directory failed; trying again")
                continue
            if now != before:
                before = now
                log.info("config directory changed; reloading")
                self.request_reload()
