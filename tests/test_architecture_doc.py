"""docs/ARCHITECTURE.md names only modules that exist: the map is what a newcomer follows.

Every `something.py` (or `folder/`) in backticks is looked up: a path with a slash from the repository
root, from daemon/ or from the layer its table row describes; a bare file name anywhere under that layer
(the rows list a layer's modules by name). A glob such as `checks/*.py` must match at least one file.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE = ROOT / "daemon"

LAYER_ROW = re.compile(r"^\| `(\w+)/` \|")
NAMED = re.compile(r"`([\w*./-]+?\.py|[\w-]+(?:/[\w-]+)*/)`")
#: backticked names that are not healerd modules (SQL files, templates, shell): none end in .py today
NOT_MODULES: set[str] = set()


def _exists(pattern: str, bases: list[Path]) -> bool:
    return any(any(base.glob(pattern)) if "*" in pattern else (base / pattern).exists() for base in bases)


def missing_names(text: str) -> list[tuple[int, str]]:
    missing = []
    for number, line in enumerate(text.splitlines(), start=1):
        row = LAYER_ROW.match(line)
        layer = PACKAGE / row.group(1) if row else None
        for name in NAMED.findall(line):
            if name in NOT_MODULES:
                continue
            if "/" in name.rstrip("/"):
                bases = [ROOT, PACKAGE] + ([layer] if layer is not None else [])
                found = _exists(name.rstrip("/"), bases)
            elif name.endswith("/"):
                found = _exists(name.rstrip("/"), [ROOT, PACKAGE] + ([layer] if layer is not None else []))
            else:  # a bare file name: somewhere in its layer, or anywhere in the package outside a table
                found = any((layer or PACKAGE).rglob(name))
            if not found:
                missing.append((number, name))
    return missing


def test_every_module_the_architecture_names_exists():
    assert missing_names(DOC.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_module_that_is_gone(tmp_path):
    text = (
        "| `engine/` | pure | `decide.py`, `gone.py` |\n"
        "see `service/healer/commit.py`, `service/healer_notify.py`, `engine/checks/*.py`, `engine/nothing/*.py`\n"
    )
    assert missing_names(text) == [(1, "gone.py"), (2, "service/healer_notify.py"), (2, "engine/nothing/*.py")]
