"""The fleet shipper: every `[fleet] every`, ship what is new to the centre, then run the fleet guard.

Local SQLite stays the source of truth; the centre is a mirror that may be down. So:

* everything that touches PostgreSQL runs on one dedicated thread, with connect and statement
  timeouts: checks and healing never wait for the centre, and a hung centre costs one thread;
* a failed round backs off exponentially (`every` × 2ⁿ, at most `max_backoff`) and says so in the
  log once per state change (down / back), not once per try; `healerd status` shows the last success,
  the last error and the lag (age of the oldest row not shipped yet);
* a centre whose schema does not match this host's is refused (store/fleet_revision.py) before any row
  is written, and the reason is shown the same way;
* fleet holds (the guard's verdicts) are kept locally with their deadline, so a hold keeps working when
  the centre goes away, and ends at its deadline whatever happens to the centre.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import socket
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from daemon import __version__
from daemon.clock import Clock
from daemon.config.models import Fleet
from daemon.engine import fleet_guard
from daemon.errors import FleetError
from daemon.service.fleet_ship import Stopped, TableShipper
from daemon.service.wiring import ConfigGetter, Store, SubmitThreadsafe
from daemon.store import fleet_central, fleet_guard_sql, fleet_revision, fleet_sql
from daemon.store.revision import current as local_revision
from daemon.store.sqlite import connect

if TYPE_CHECKING:
    import sqlalchemy as sa

log = structlog.get_logger(__name__)

#: how long the shipper thread waits for the writer to record a mark before giving up the round
MARK_TIMEOUT_S = 30.0
#: the shipping summary goes to the log at most this often while all is well
LOG_EVERY_S = 60.0


def host_name(settings: Fleet) -> str:
    return settings.host or socket.gethostname()


class FleetShipper:
    def __init__(
        self,
        settings: Fleet,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        submit_threadsafe: SubmitThreadsafe,
        status_soon: Callable[[], None] = lambda: None,
    ) -> None:
        """`submit_threadsafe`: the writer's submit for the shipper's own thread; `status_soon()`: the
        daemon's STATUS= line should say what changed (centre reachable or not)."""
        self.settings = settings
        self._config = config
        self.store = store
        self.submit_threadsafe = submit_threadsafe
        self.status_soon = status_soon
        self.host = host_name(settings)
        self.centre = fleet_central.safe_url(settings.url)
        self.clock = clock
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet")
        self._stopping = threading.Event()
        self._engine: sa.Engine | None = None
        self._compatible = False
        self._task: asyncio.Task | None = None
        self.shipper = TableShipper(self.host, settings.batch, self._save_mark, self._stopping, self.clock.wall)
        #: component → (until, reason, fleet incident id): remediation held by a fleet incident
        self.holds: dict[str, tuple[float, str, int]] = {}
        self.failures = 0
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.lag_s: float | None = None
        self.rows_shipped = 0
        self._logged_rows = 0
        self._logged_at = 0.0

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.holds = await asyncio.to_thread(self.store.read, fleet_sql.load_holds, self.clock.wall())
        self._task = asyncio.create_task(self._loop(), name="fleet-shipper")
        log.info("fleet shipping on", host=self.host, centre=self.centre, every_s=self.settings.every.total_seconds())

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            from daemon.service.tasks import cancel_and_wait

            await cancel_and_wait([self._task], what="fleet shipper")
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._engine is not None:
            self._engine.dispose(close=False)

    def metrics(self) -> dict[str, Any]:
        """For /metrics and the status line: lag, last success (wall seconds), rows shipped, failures."""
        return {
            "lag_s": self.lag_s,
            "last_success_at": self.last_success,
            "rows_shipped": self.rows_shipped,
            "consecutive_failures": self.failures,
            "last_error": self.last_error,
        }

    def status_suffix(self) -> str:
        """For STATUS=: the shipping lag, and whether the centre is failing."""
        lag = "?" if self.lag_s is None else f"{self.lag_s:.0f}"
        return f", fleet lag {lag} s" + (" (centre unreachable)" if self.failures else "")

    def hold_reason(self, component: str, now: float) -> tuple[float, str] | None:
        hold = self.holds.get(component)
        if hold is None or hold[0] <= now:
            return None
        return hold[0], hold[1]

    # --- the loop ------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        every = self.settings.every.total_seconds()
        while not self._stopping.is_set():
            now = self.clock.wall()
            ok, error = True, None
            try:
                shipped = await loop.run_in_executor(self._executor, self._round)
                self._succeeded(shipped, now)
            except Stopped:
                return
            except Exception as exc:  # the centre being down is expected; nothing here may kill the daemon
                ok, error = False, _describe(exc)
                self._failed(error, exc)
            try:
                self.lag_s = await asyncio.to_thread(self.store.read, fleet_sql.lag, self.clock.wall())
                await self.store.submit(
                    partial(
                        fleet_sql.save_status,
                        host=self.host,
                        centre=self.centre,
                        now=now,
                        ok=ok,
                        error=error,
                        lag_s=self.lag_s,
                    )
                )
            except Exception as exc:
                log.warning("fleet status not recorded", error=str(exc))
            await asyncio.sleep(self._delay(every))

    def _delay(self, every: float) -> float:
        if not self.failures:
            return every
        ceiling = min(self.settings.max_backoff.total_seconds(), every * 2 ** min(self.failures, 16))
        return max(every, random.uniform(ceiling / 2, ceiling))  # equal jitter: hosts do not retry in step

    def _succeeded(self, shipped: int, now: float) -> None:
        if self.failures:
            log.warning(
                "fleet centre reachable again",
                centre=self.centre,
                failed_rounds=self.failures,
                down_s=None if self.last_success is None else round(now - self.last_success, 1),
            )
            self.status_soon()  # STATUS= stops saying "centre unreachable" now, not at the next transition
        self.failures, self.last_error, self.last_success = 0, None, now
        self.rows_shipped += shipped
        if now - self._logged_at >= LOG_EVERY_S:
            log.info(
                "fleet shipping",
                host=self.host,
                rows=self.rows_shipped - self._logged_rows,
                lag_s=self.lag_s,
                last_success_at=now,
            )
            self._logged_rows, self._logged_at = self.rows_shipped, now

    def _failed(self, error: str, exc: Exception) -> None:
        self.failures += 1
        if self.failures == 1:
            self.status_soon()  # STATUS= says so now, not only at the next breaker transition
        self._compatible = False
        if error != self.last_error:
            log.warning(
                "fleet shipping failed; rows stay local and are shipped when the centre is back",
                centre=self.centre,
                error=error,
                lag_s=self.lag_s,
            )
        self.last_error = error
        if not isinstance(exc, FleetError) and self._engine is not None:
            # A connection broken by a restart must not be reused, and a refused login may mean the
            # password was rotated: the next round builds a new engine and reads the file again.
            self._engine.dispose(close=False)
            self._engine = None

    # --- one round, on the shipper thread ------------------------------------------------------------

    def _round(self) -> int:
        if self._engine is None:
            self._engine = fleet_central.make_engine(
                self.settings.url,
                self.settings.password_file,
                connect_timeout=self.settings.connect_timeout.total_seconds(),
            )
        local = connect(self.store.db_path, readonly=True)
        try:
            with self._engine.connect() as pg:
                if not self._compatible:
                    fleet_revision.check_compatible(pg)
                    pg.commit()
                    self._compatible = True
                shipped = self.shipper.round(local, pg)
                now = self.clock.wall()
                fleet_central.touch_host(
                    pg,
                    self.host,
                    now=now,
                    version=__version__,
                    local_revision=local_revision(self.store.db_path),
                    lag_s=fleet_sql.lag(local, now),
                    rows=shipped,
                )
                pg.commit()
                if self.settings.guard:
                    self._guard(pg, now, local)
                return shipped
        finally:
            local.close()

    def _save_mark(self, table: str, shipped_id: int, open_from: int | None, rows: int) -> None:
        now = self.clock.wall()
        future = self.submit_threadsafe(lambda conn: fleet_sql.save_mark(conn, table, shipped_id, open_from, rows, now))
        future.result(MARK_TIMEOUT_S)

    def _guard(self, pg, now: float, local) -> None:
        """Open or close fleet incidents, then hold or release local components accordingly.

        The shares query scans the fleet's breakers, so a host only runs it while one of its own
        breakers is open or half-open (it is then one of the hosts a fleet incident would count);
        every host reads the open incidents, which is one indexed lookup."""
        s = self.settings
        incidents = fleet_guard_sql.open_incidents(pg)
        pg.commit()
        if not incidents and not fleet_sql.breakers_open(local):
            self._apply_holds(incidents, pg, now)
            return
        if self._plan(pg, incidents, now) and fleet_guard_sql.try_lock(pg):
            try:
                # Planned again under the lock: another host may have opened or closed an incident between
                # the look above and the lock (the partial unique index would refuse a second open one,
                # but a close planned on stale shares could end an incident that was just reopened).
                plan = self._plan(pg, fleet_guard_sql.open_incidents(pg), now)
                for share in plan.open:
                    fleet_guard_sql.open_incident(
                        pg,
                        share.component,
                        share.hosts_open,
                        share.hosts_total,
                        host=self.host,
                        now=now,
                        reason=fleet_guard.reason(share, s.max_share),
                    )
                    log.warning(
                        "fleet incident opened",
                        component=share.component,
                        hosts_open=share.hosts_open,
                        hosts_total=share.hosts_total,
                    )
                for incident_id in plan.close:
                    fleet_guard_sql.close_incident(pg, incident_id, now)
                    log.info("fleet incident closed", fleet_incident=incident_id)
                pg.commit()
            finally:
                fleet_guard_sql.unlock(pg)
                pg.commit()
            incidents = fleet_guard_sql.open_incidents(pg)
            pg.commit()
        self._apply_holds(incidents, pg, now)

    def _plan(self, pg, incidents: dict[str, tuple[int, str]], now: float):
        s = self.settings
        shares = [fleet_guard.Share(*row) for row in fleet_guard_sql.shares(pg, now - s.window.total_seconds())]
        pg.commit()
        return fleet_guard.plan(shares, {c: i for c, (i, _r) in incidents.items()}, s.max_share, s.min_hosts)

    def _apply_holds(self, incidents: dict[str, tuple[int, str]], pg, now: float) -> None:
        """Hold each local component with an open fleet incident until its opening + hold_for; end holds
        whose incident closed. Not renewed past that: a hold must not keep an outage going by itself."""
        hold_for = self.settings.hold_for.total_seconds()
        opened = fleet_guard_sql.opened_at(pg, [i for i, _r in incidents.values()])
        pg.commit()
        holds = dict(self.holds)
        writes = []
        for component in self._config().components:
            if component in incidents:
                incident_id, reason = incidents[component]
                until = opened.get(incident_id, now) + hold_for
                text = f"held by fleet incident #{incident_id}: {reason}"
                if until > now and holds.get(component, (None, None, None))[2] != incident_id:
                    holds[component] = (until, text, incident_id)
                    writes.append((component, incident_id, until, text))
                    log.warning(
                        "local remediation held by a fleet incident",
                        component=component,
                        fleet_incident=incident_id,
                        until=until,
                    )
            elif component in holds and holds[component][0] > now:
                _until, text, incident_id = holds[component]
                holds[component] = (now, text, incident_id)
                writes.append((component, incident_id, now, text))
                log.info("fleet hold ended: the fleet incident closed", component=component, fleet_incident=incident_id)
        if writes:

            def save(conn: Any) -> None:
                for w in writes:
                    fleet_sql.save_hold(conn, *w, now)

            self.submit_threadsafe(save).result(MARK_TIMEOUT_S)
        self.holds = holds


def _describe(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return f"{type(exc).__name__}: {text}"[:500]
