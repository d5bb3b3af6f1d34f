"""The daemon's read-only HTTP service and metrics textfile, started and stopped by the runtime.

aiohttp on the daemon's own event loop: the handlers only await (aiosqlite reads on their own
threads, formatting on a worker thread), so serving a page never blocks a check. Nothing here writes
to the database or changes the daemon's state; control stays with the CLI and `operator_commands`.

If the port cannot be bound or the password file cannot be trusted, the daemon logs the error and
keeps healing without HTTP: a page nobody can load is bad, a healer that will not start is worse.
A reload that changes `[http]` or `[metrics]` restarts the server with the new settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from daemon.config.models import HttpSettings, MetricsSettings
from daemon.service.tasks import cancel_and_wait
from daemon.service.web.tally import CheckTally
from daemon.service.wiring import DaemonView

if TYPE_CHECKING:
    # aiohttp and prometheus_client (via .metrics) are imported when the service is wanted: a daemon
    # with neither [http] nor a metrics textfile never pays their ~17 MB (issue 11)
    from aiohttp import web

    from daemon.service.web import metrics

log = structlog.get_logger(__name__)

#: a request line or header longer than this is an attack or a bug (aiohttp's default, stated)
MAX_LINE_BYTES = 8190
#: aiohttp arms this timer when a connection opens, so it also bounds reading a request's head: a client
#: dripping a header line every second (slowloris) is cut off after it, as is an idle keep-alive.
KEEPALIVE_S = 15.0
LAG_EVERY_S = 1.0


class WebService:
    def __init__(self, daemon: DaemonView) -> None:
        self.daemon = daemon
        self.http: HttpSettings = daemon.config.settings.http
        self.metrics_settings: MetricsSettings = daemon.config.settings.metrics
        self.db_path = Path(daemon.store.db_path)
        self.tally = CheckTally(self._kind_of)
        self._renderer: metrics.Renderer | None = None
        self._render_lock = asyncio.Lock()
        self.runner: web.AppRunner | None = None
        #: (host, port) actually bound, once listening
        self.address: tuple[str, int] | None = None
        self.loop_lag_s = 0.0
        self.lag_checked_at = time.monotonic()
        self._tasks: list[asyncio.Task] = []

    @property
    def renderer(self):
        if self._renderer is None:
            from daemon.service.web import metrics

            self._renderer = metrics.Renderer()
        return self._renderer

    @property
    def wanted(self) -> bool:
        return self.http.enabled or self.metrics_settings.textfile is not None

    def _kind_of(self, name: str) -> str | None:
        component = self.daemon.config.components.get(name)
        return component.check.kind if component is not None else None

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.wanted:
            return
        if self.daemon.monitor is not None:  # the runtime starts the monitor first
            self.daemon.monitor.result_listeners.append(self.tally.observe)
        self._tasks.append(asyncio.create_task(self._lag_loop(), name="http-loop-lag"))
        if self.metrics_settings.textfile:
            self._tasks.append(asyncio.create_task(self._textfile_loop(), name="metrics-textfile"))
        if self.http.enabled:
            try:
                await self._listen()
            except Exception as exc:
                log.error(
                    "http service not started; healing goes on without it",
                    error=str(exc),
                    address=self.http.address,
                    port=self.http.port,
                )
                await self._close_runner()

    async def _listen(self) -> None:
        from aiohttp import web

        from daemon.service.web.routes import build_app

        app = build_app(self, password=self._password())
        self.runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            keepalive_timeout=KEEPALIVE_S,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
        )
        await self.runner.setup()
        site = web.TCPSite(
            self.runner, self.http.address, self.http.port, ssl_context=self._tls(), shutdown_timeout=1.0, backlog=64
        )
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.address = (host, port)
        log.info(
            "http listening",
            url=self.base_url(),
            tls=self.http.tls_cert is not None,
            auth=self.http.basic_auth is not None,
        )

    def base_url(self) -> str | None:
        if self.http.external_url:
            return self.http.external_url.rstrip("/")
        if self.address is None:
            return None
        scheme = "https" if self.http.tls_cert else "http"
        host = self.address[0]
        return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{self.address[1]}"

    def incident_base(self) -> str | None:
        """Where notifications link an incident to, while the page is served."""
        base = self.base_url()
        return None if base is None else base + "/incidents/"

    def _password(self) -> str | None:
        auth = self.http.basic_auth
        if auth is None:
            return None
        from daemon.config.files import read_trusted_file

        return read_trusted_file(auth.password_file).decode("utf-8").rstrip("\r\n")

    def _tls(self) -> ssl.SSLContext | None:
        if not self.http.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.http.tls_cert, self.http.tls_key)
        return context

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks, what="http service")
        self._tasks.clear()
        await self._close_runner()
        monitor = self.daemon.monitor
        if monitor is not None and self.tally.observe in monitor.result_listeners:
            monitor.result_listeners.remove(self.tally.observe)

    async def _close_runner(self) -> None:
        if self.runner is not None:
            try:
                async with asyncio.timeout(5):
                    await self.runner.cleanup()
            except Exception:
                log.warning("http service did not close cleanly", exc_info=True)
            self.runner = None

    async def apply_config(self, config) -> None:
        """A reload that changed [http] or [metrics] restarts the server and the textfile loop with the
        new settings (a new port, TLS files, password); the check counters carry on."""
        wanted = (config.settings.http, config.settings.metrics)
        if wanted == (self.http, self.metrics_settings):
            return
        log.info("[http] or [metrics] changed; restarting the http service")
        await self.stop()
        self.http, self.metrics_settings = wanted
        self.address = None
        await self.start()

    # --- what the handlers share ---------------------------------------------------------------------

    async def read(self, fn, *args, timeout: float | None = None):
        from daemon.store.aioread import read

        return await read(self.db_path, fn, *args, timeout=timeout or self.http.request_timeout.total_seconds())

    async def metrics_text(self, timeout: float) -> bytes:
        """One scrape: memory snapshot on the loop, one DB read, formatting on a thread."""
        from daemon.service.web import metrics

        snap = metrics.snapshot_memory(self.daemon, self.tally)
        try:
            snap.db = await self.read(metrics.read_db, timeout=timeout)
        except Exception as exc:
            log.warning("metrics: database figures unavailable", error=str(exc))
        async with self._render_lock:  # the renderer's cache is not for two threads at once
            return await asyncio.to_thread(self.renderer.render, snap)

    # --- loops ---------------------------------------------------------------------------------------

    async def _lag_loop(self) -> None:
        """How late the loop wakes a 1 s sleep: /healthz reports it (a stuck loop answers nothing)."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_EVERY_S)
            self.lag_checked_at = time.monotonic()
            self.loop_lag_s = max(0.0, self.lag_checked_at - start - LAG_EVERY_S)

    async def _textfile_loop(self) -> None:
        if self.metrics_settings.textfile is None:  # started only when one is configured
            return
        path = Path(self.metrics_settings.textfile)
        every = self.metrics_settings.textfile_every.total_seconds()
        while True:
            try:
                text = await self.metrics_text(timeout=min(every, 10.0))
                await asyncio.to_thread(write_atomically, path, text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("metrics textfile not written", path=str(path), error=str(exc))
            await asyncio.sleep(every)


def write_atomically(path: Path, data: bytes) -> None:
    """node_exporter must never read half a file: write a temp file beside it, fsync, rename over."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
