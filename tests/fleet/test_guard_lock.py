"""The fleet-wide guard coordinates through `pg_try_advisory_lock`: while another session holds the lock no
host writes fleet incidents, the server frees it when that session dies, and three hosts planning the same
incident open it once."""

from __future__ import annotations

import asyncio
import shutil

import sqlalchemy as sa
from kit import FakeRuntime, add_component, fleet_settings, local, set_breaker

from daemon.store.fleet_guard_sql import GUARD_LOCK


async def _hosts(centre, template_db, tmp_path):
    shippers = []
    for name in ("h1", "h2", "h3"):
        db = tmp_path / f"{name}.db"
        shutil.copyfile(template_db, db)
        conn = local(db)
        set_breaker(conn, add_component(conn, "shared"), "open")  # a shared cause: open on every host
        conn.close()
        rt = FakeRuntime(db, fleet_settings(centre, host=name, min_hosts=2), components=("shared",))
        await rt.writer.start()
        shippers.append((rt, rt.shipper()))
    return shippers


async def test_no_host_writes_fleet_incidents_while_the_lock_is_held_and_one_does_once_its_holder_dies(
    centre, template_db, tmp_path
):
    shippers = await _hosts(centre, template_db, tmp_path)
    holder = centre.engine.connect()
    try:
        holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": GUARD_LOCK})
        holder_pid = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        holder.commit()
        for _rt, shipper in shippers + shippers:  # twice: the third host's rows make the share > max_share
            await asyncio.to_thread(shipper._round)
        assert centre.rows("SELECT count(*) FROM fleet_incidents") == [(0,)]  # all planned it, none could write

        with centre.engine.begin() as admin:  # the holder's session dies; the server frees its lock
            assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": holder_pid}).scalar()
        for _rt, shipper in shippers:
            await asyncio.to_thread(shipper._round)
        assert centre.rows("SELECT component, status, hosts_open, hosts_total FROM fleet_incidents") == [
            ("shared", "open", 3, 3)
        ]
        assert shippers[0][1].holds.get("shared") is not None  # and the local remediation is held
    finally:
        holder.invalidate()
        for rt, shipper in shippers:
            shipper._executor.shutdown(wait=False)
            if shipper._engine is not None:
                shipper._engine.dispose()
            await rt.writer.stop()
