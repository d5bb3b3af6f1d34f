"""Trust for the programs a config file makes healerd run, not only for the file itself.

A policy that passes the trust rule but runs `services/restart.sh`, which anyone can write, hands root
to whoever edits the script. So the program of every `run` argv (actions, exec checks, `run` channels,
chaos faults) gets the config-file rule (owner root or healerd's user; group and others cannot write):

- argv[0] when it is a path (contains `/`), and the script it runs: the first later element that does
  not start with `-` and names an existing regular file (`python3 services/app.py`, `sh x.sh`); none
  after `-c`/`-e`/`-m` (inline code or a module, which is in the config itself or root's). A bare
  command name (`systemctl`) comes from root's PATH and is not checked.
- Relative paths resolve against the config directory, because commands run there.
- When the program (or its symlink's target) lies inside the config directory, every directory between
  it and the config directory is checked too: whoever can write one of them can swap the program.
  Directories outside it are not (like the ancestors of DIR, they are the system's).

Checked on every load and reload. A change of mode alone does not trigger a reload, so `healerd check`
is the way to re-check after a chmod.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from daemon.config.files import trust_problem
from daemon.config.locate import LineOf
from daemon.config.problems import Problem, format_key


def program_problems(model: BaseModel, directory: Path, relpath: str, line_of: LineOf) -> list[Problem]:
    """One problem per argv whose program or script cannot be trusted, at the `run` key."""
    problems = []
    for key, argv in _argvs(model, ()):
        for path in _programs(argv, directory):
            reason = _untrusted(path, directory)
            if reason:
                problems.append(Problem(relpath, format_key(key), reason, line_of(key, False)))
                break
    return problems


def _argvs(value: object, key: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], list[str]]]:
    """Every `run` argv in a parsed file, with its key path as the operator wrote it (aliases)."""
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            child = getattr(value, name)
            part = info.alias or name
            if name == "run" and isinstance(child, list) and all(isinstance(a, str) for a in child):
                yield key + (part,), child
            else:
                yield from _argvs(child, key + (part,))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _argvs(item, key + (index,))
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _argvs(item, key + (str(name),))


def _programs(argv: list[str], directory: Path) -> list[Path]:
    found = []
    if "/" in argv[0]:
        found.append(directory / argv[0])
    for arg in argv[1:]:
        if arg in ("-c", "-e", "-m"):
            break  # the program is inline in the config (python -c CODE, sh -c CODE) or a module: no file
        if arg.startswith("-"):
            continue
        try:
            is_file = (directory / arg).is_file()
        except (OSError, ValueError):  # not a path at all (too long for one, say): not a script file
            is_file = False
        if is_file:
            found.append(directory / arg)
        break
    return found


def _untrusted(path: Path, directory: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None  # a program that does not exist fails when it runs, with its own error
    shown = os.path.normpath(path)
    reason = trust_problem(st, f"the program {shown}")
    if reason:
        return reason
    lexical = (Path(os.path.normpath(path)), Path(os.path.normpath(directory)))
    for file, top in (lexical, (path.resolve(), directory.resolve())):
        for parent in _parents_inside(file, top):
            try:
                reason = trust_problem(parent.stat(), f"the directory {parent} holding the program {shown}")
            except OSError:
                continue
            if reason:
                return reason
    return None


def _parents_inside(path: Path, directory: Path) -> list[Path]:
    """The directories from path's parent up to, not including, the config directory; [] if outside."""
    parents: list[Path] = []
    for parent in path.parents:
        if parent == directory:
            return parents
        parents.append(parent)
    return []
