"""The pure core (decide(), the breaker, the ladder, the rules: pyproject's [tool.healerd]) reaches no I/O.

decide() is tested exhaustively because it is a function of its arguments; one import of the store, a
subprocess helper or an HTTP client would quietly end that. The imports are read with `ast` (nothing is
imported), followed through every healerd module they name, at any depth and inside functions too;
only `if TYPE_CHECKING:` blocks are skipped, since they never run.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Modules that talk to disks-as-databases, processes, sockets or HTTP, and healerd's own I/O layers.
FORBIDDEN = (
    "asyncio",
    "subprocess",
    "socket",
    "sqlite3",
    "aiosqlite",
    "sqlalchemy",
    "alembic",
    "httpx",
    "h11",
    "aiohttp",
    "apprise",
    "smtplib",
    "psycopg",
    "watchfiles",
    "threading",
    "concurrent",
    "daemon.store",
    "daemon.service",
    "daemon.scheduling",
    "daemon.cli",
    "daemon.engine.checks",
    "daemon.engine.actions",
    "daemon.engine.proc",
    "daemon.engine.pidwatch",
    "daemon.engine.notify",
    "daemon.engine.checkpoints",
    "daemon.engine.checkpoint_files",
    "daemon.engine.publish",
    "daemon.paths",
    "daemon.logs",
)


def _settings() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["healerd"]


def pure_modules() -> list[str]:
    """Dotted names of every module the settings list (a folder stands for each of its .py files)."""
    settings = _settings()
    names = []
    for entry in settings["pure-core"] + settings["pure-not-strict"]:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            names.append(".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    return names


def _source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str) -> set[str]:
    """Every module `module` imports when it runs (relative imports resolved)."""
    path = _source(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            # `from daemon.engine import notify` imports the module daemon.engine.notify
            found.update(f"{base}.{alias.name}" for alias in node.names if _source(f"{base}.{alias.name}"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def reached_from(module: str) -> dict[str, list[str]]:
    """Every module reachable from `module` through healerd's own modules, with one import chain each."""
    chains: dict[str, list[str]] = {module: [module]}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in chains:
                continue
            chains[name] = [*chains[current], name]
            if name.split(".")[0] == "daemon" and _source(name) is not None:
                todo.append(name)
    return chains


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_the_settings_name_modules_that_exist():
    modules = pure_modules()
    assert "daemon.engine.decide" in modules
    assert [m for m in modules if _source(m) is None] == []


@pytest.mark.parametrize("module", pure_modules())
def test_a_pure_module_reaches_no_io_module(module):
    bad = {name: chain for name, chain in reached_from(module).items() if _forbidden(name)}
    assert not bad, "\n".join(" -> ".join(chain) for chain in bad.values())


def test_the_walk_follows_imports_through_other_modules():
    # the checker itself: decide.py reaches daemon.engine.ladder, and an I/O edge reaches asyncio
    assert "daemon.engine.ladder" in reached_from("daemon.engine.decide")
    assert _forbidden("daemon.store.writer") and not _forbidden("daemon.storey")
    chains = reached_from("daemon.engine.actions")
    assert any(_forbidden(name) for name in chains)
