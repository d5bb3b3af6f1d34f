"""Helpers for config tests: a config directory built file by file with explicit, safe modes.

Modes are set with chmod, never left to the umask: the loader refuses group-writable files, and a
test machine with umask 002 must not turn a "loads fine" test into a refusal.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from daemon.config.loader import load_config

SETTINGS = """
[notify.ops]
kind = "log"
"""

DB_AND_STANDBY = """
[[component]]
name = "db"
[component.check]
kind = "tcp"
port = 5432

[[component]]
name = "app-standby"
[component.check]
kind = "http"
url = "http://127.0.0.1:8081/healthz"
"""


class ConfigDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)

    def write(self, relpath: str, text: str, mode: int = 0o644) -> Path:
        path = self.root / relpath
        parent = path.parent
        if not parent.exists():
            parent.mkdir(parents=True)
            os.chmod(parent, 0o755)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        os.chmod(path, mode)
        return path

    def load(self, previous=None):
        return load_config(self.root, previous=previous)

    def problems(self) -> list[str]:
        loaded, problems = self.load()
        assert loaded is None if problems else loaded is not None
        return [str(p) for p in problems]


def component(name: str, extra: str = "", check: str = 'kind = "tcp"\nport = 1') -> str:
    """A minimal valid component as TOML, with `extra` keys at component level."""
    return f'[[component]]\nname = "{name}"\n{extra}\n[component.check]\n{check}\n'
