"""`${NAME}` and `${NAME:-default}` in config strings, filled from the daemon's environment.

Why: one config directory must serve a git checkout (no root, files next to it) and a systemd host
(read-only /etc, runtime files under $RUNTIME_DIRECTORY), and a test must be able to move the example's
ports. `pidfile = "${RUNTIME_DIRECTORY:-run}/app.pid"` says both in one line, the way docker-compose
and systemd's own Environment= users write it. Only the braced form is recognised, so a lone `$` in an
argv (`sh -c 'echo $HOME'`) is left alone; `$${` writes a literal `${`. An unset variable without a
default is a problem with its key path, never an empty string: a path silently becoming "/app.pid" is
exactly the surprise this refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

KeyPath = tuple[str | int, ...]


def expand(data: Any, env: Mapping[str, str], path: KeyPath = ()) -> tuple[Any, list[tuple[KeyPath, str]]]:
    """`data` with every string expanded, and (key path, message) for each variable that is not set."""
    problems: list[tuple[KeyPath, str]] = []
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out[key], found = expand(value, env, (*path, key))
            problems += found
        return out, problems
    if isinstance(data, list):
        items = []
        for index, value in enumerate(data):
            item, found = expand(value, env, (*path, index))
            items.append(item)
            problems += found
        return items, problems
    if isinstance(data, str) and "${" in data:

        def fill(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return match.group(0)[1:]  # "$${X}" → "${X}", taken literally
            value = env.get(name)
            if value:  # unset or empty takes the default, as ${X:-d} does in sh
                return value
            if default is not None:
                return default
            problems.append(
                (path, f"environment variable {name} is not set (write ${{{name}:-DEFAULT}} to give a default)")
            )
            return match.group(0)

        return _REF.sub(fill, data), problems
    return data, problems
