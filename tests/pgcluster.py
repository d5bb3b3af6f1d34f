"""A throwaway PostgreSQL cluster in a temp dir, on a free port, stopped by its pid.

Used by the fleet tests (tests/fleet/conftest.py), bench/fleet_ship.py and `.ci/run` (as a script:
`python3 tests/pgcluster.py start DIR` prints the URL, `... stop DIR` stops it). Standard library only,
so .ci/run can call it before any virtualenv exists.

PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user
(`runuser -u postgres --`) in a directory that user owns. Host connections need a password
(scram-sha-256), so the tests exercise the password file the way an operator's host would; the password
is written to DIR/password (mode 0600).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(RuntimeError):
    """PostgreSQL cannot be had here (not installed, no postgres user): tests skip with this reason."""


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise Unavailable("PostgreSQL is not installed (apt-get install -y postgresql)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no postgres user to run the server as") from None
    return ["runuser", "-u", "postgres", "--", *argv]


@dataclass
class Cluster:
    directory: Path
    port: int
    password_file: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres") -> str:
        """Without the password: healerd reads it from `password_file`."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def start(self, timeout: float = 60) -> None:
        argv = [
            str(bindir() / "pg_ctl"),
            "start",
            "-w",
            "-t",
            str(int(timeout)),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        ]
        result = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout + 10)
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown by the postmaster's pid (SIGINT), waiting until it is gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def create(directory: Path, port: int | None = None) -> Cluster:
    """initdb into DIR/data and start it; raises Unavailable when PostgreSQL cannot be had."""
    tools = bindir()
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    password_file = directory / "password"
    password_file.write_text(password + "\n")
    os.chmod(password_file, 0o600)
    pwfile = directory / "initdb.pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(directory, pg.pw_uid, pg.pw_gid)
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
    os.chmod(directory, 0o755)
    cluster = Cluster(directory, port or free_port(), password_file)
    argv = [
        str(tools / "initdb"),
        "-D",
        str(cluster.data),
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        f"--pwfile={pwfile}",
    ]
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120)
    pwfile.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr[-2000:]}")
    cluster.start()
    return cluster


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: pgcluster.py start|stop DIR", file=sys.stderr)
        return 2
    directory = Path(argv[1]).resolve()
    if argv[0] == "start":
        cluster = create(directory)
        (directory / "port").write_text(str(cluster.port))
        print(cluster.url())
        return 0
    port = int((directory / "port").read_text())
    Cluster(directory, port, directory / "password").stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
