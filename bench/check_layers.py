"""CPU per tcp check, layer by layer: what each layer of healerd's check path adds on top of the kernel.

Issue 11 asks for a tcp check within 2× of Monit's CPU. Monit 5.33's tcp check is almost all kernel
time (connect + close): 42-44 µs on this machine on 1 December 2026, 77-95 µs on a slower day. This prints, for the same local listener and the
same 200 components (a separate process accepts and closes, so its CPU is not counted here):

  1. a bare non-blocking socket connect + close in a loop (the kernel's share: the floor for anyone);
  2. `tcp._connect` (asyncio, no check bookkeeping);
  3. `check_tcp` (the check's own outcome);
  4. `run_check` (timeout, latency, CheckResult);
  5. `Monitor.run` with a real Writer on a migrated SQLite file (breaker, result row, hourly and daily
     rollups, breaker flushes): the whole per-check path except the scheduler and the healer's and
     degradation's listeners.

User and system µs per check from getrusage over all threads (the writer thread included).
`bench/monit_compare.py` measures the whole daemon beside Monit in the same run.

Usage: .venv/bin/python bench/check_layers.py [--n 200] [--rounds 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ACCEPTOR = r"""
import selectors, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4096); s.setblocking(False)
print(s.getsockname()[1], flush=True)
sel = selectors.DefaultSelector(); sel.register(s, selectors.EVENT_READ)
while True:
    sel.select()
    while True:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        c.close()
"""


def cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def say(label: str, before: tuple[float, float], after: tuple[float, float], checks: int) -> None:
    user, sys_ = ((b - a) * 1e6 / checks for a, b in zip(before, after, strict=True))
    print(f"  {label:44s} user {user:6.1f}  sys {sys_:6.1f}  total {user + sys_:6.1f} µs/check", flush=True)


def config(tmp: Path, port: int, n: int):
    from daemon.config.loader import load_config

    etc = tmp / "etc"
    (etc / "policies.d").mkdir(parents=True)
    for d in (etc, etc / "policies.d"):
        os.chmod(d, 0o755)
    (etc / "healerd.toml").write_text("[daemon]\nwatch_config = false\n")
    (etc / "policies.d" / "p.toml").write_text(
        "".join(
            f'[[component]]\nname = "c{i}"\n[component.check]\nkind = "tcp"\nhost = "127.0.0.1"\n'
            f'port = {port}\nevery = "1s"\n'
            for i in range(n)
        )
    )
    for f in (etc / "healerd.toml", etc / "policies.d" / "p.toml"):
        os.chmod(f, 0o644)
    loaded, problems = load_config(etc)
    if loaded is None:
        raise SystemExit(f"config: {problems}")
    return loaded.config


async def layers(port: int, n: int, rounds: int, tmp: Path) -> None:
    from daemon.clock import SYSTEM_CLOCK
    from daemon.engine.checks import run_check
    from daemon.engine.checks.tcp import _connect, check_tcp
    from daemon.service.monitor import Monitor
    from daemon.service.runtime import component_row
    from daemon.store import migrate
    from daemon.store import state as store_state
    from daemon.store.writer import Writer

    cfg = config(tmp, port, n)
    components = list(cfg.components.values())
    checks = n * rounds

    async def timed(label: str, one) -> None:
        for c in components:  # warm-up
            await one(c)
        before = cpu()
        for _ in range(rounds):
            for c in components:
                await one(c)
            await asyncio.sleep(0.02)  # let the writer and the loop's timers run as they would
        await flush()
        say(label, before, cpu(), checks)

    async def bare(_c) -> None:
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        s.close()

    async def nothing() -> None:
        return None

    flush = nothing
    await timed("1. bare socket connect + close (kernel)", bare)
    await timed("2. tcp._connect (asyncio)", lambda c: _connect("127.0.0.1", port))
    await timed("3. check_tcp", lambda c: check_tcp(c, None))
    await timed("4. run_check (timeout, latency, CheckResult)", lambda c: run_check(c))

    db = tmp / "healerd.db"
    migrate.upgrade(db)
    writer = Writer(db, max_queue=100_000)
    await writer.start()
    rows = [component_row(c, None) for c in components]
    ids = await writer.submit(lambda conn: store_state.sync_components(conn, rows, time.time()))
    monitor = Monitor(cfg, writer, SYSTEM_CLOCK, ids)
    monitor.restore({})
    monitor.start()
    flush = writer.flush
    await timed("5. Monitor.run + Writer (breaker, row, rollups)", lambda c: monitor.run(c.name))
    await monitor.stop(1)
    await writer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="components")
    parser.add_argument("--rounds", type=int, default=25, help="checks of every component per layer")
    args = parser.parse_args()
    acceptor = subprocess.Popen([sys.executable, "-c", ACCEPTOR], stdout=subprocess.PIPE, text=True)
    try:
        port = int(acceptor.stdout.readline())
        print(f"CPU per tcp check, {args.n} components × {args.rounds} rounds, listener on 127.0.0.1:{port}")
        print(
            "reference, this run: layer 1 (the kernel's share, about Monit's whole tcp check);"
            " bench/monit_compare.py measures Monit itself beside healerd"
        )
        with tempfile.TemporaryDirectory(prefix="healerd-layers-") as tmp:
            asyncio.run(layers(port, args.n, args.rounds, Path(tmp)))
    finally:
        acceptor.kill()
        acceptor.wait(10)


if __name__ == "__main__":
    main()
