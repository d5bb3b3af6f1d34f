"""Run a command with DIR read-only, the way the shipped unit's ProtectSystem= shows /etc to healerd.

Call it inside a private mount namespace (`unshare -m --propagation private python readonly_exec.py
DIR -- CMD...`): it bind-mounts DIR onto itself read-only, proves a write there now fails with EROFS (so
a test built on it cannot pass vacuously), then execs CMD, which keeps the pid.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys


def main(argv: list[str]) -> None:
    directory, separator, command = argv[0], argv[1], argv[2:]
    assert separator == "--" and command, "usage: readonly_exec.py DIR -- CMD..."
    subprocess.run(["mount", "--bind", directory, directory], check=True, timeout=30)
    subprocess.run(["mount", "-o", "remount,bind,ro", directory], check=True, timeout=30)
    probe = os.path.join(directory, ".write-probe")
    try:
        open(probe, "w").close()
    except OSError as exc:
        if exc.errno != errno.EROFS:
            raise
    else:
        os.unlink(probe)
        sys.exit(f"{directory} is still writable after the read-only bind mount")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
