"""Find the line of a key path in the text of a config file, so a problem says where to look.

Neither tomllib nor yaml.safe_load keeps positions, so:

- YAML: compose the node tree (the same parse, with marks) and walk the key path through it. This is
  exact. The same walk finds duplicate keys, which safe_load silently resolves to the last one — a
  typo'd copy-paste that must not pass silently.
- TOML: a best-effort line scan that understands table headers (`[a.b]`, `[[a.b]]` with their running
  indexes), dotted and quoted keys and multi-line strings. It does not need to be a full TOML parser:
  the file has already parsed, and a miss only costs the line number, never the problem.

A locator answers the deepest known prefix of the path: an error inside an inline table
(`action = { run = [...], timeout = "0s" }`) points at the `action` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from daemon.config.problems import KeyPath

LineOf = Callable[[KeyPath, bool], "int | None"]

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY_PART)
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#.*$')


def _split_dotted(text: str) -> list[str]:
    parts = []
    for match in _PART.finditer(text):
        raw = match.group(0)
        if raw[0] == '"':
            raw = raw[1:-1].encode().decode("unicode_escape")
        elif raw[0] == "'":
            raw = raw[1:-1]
        parts.append(raw)
    return parts


def _bracket_depth(text: str) -> int:
    """Open minus closed brackets outside strings and comments: >0 means a value continues below."""
    bare = _STRING_OR_COMMENT.sub("", text)
    return bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")


def toml_lines(text: str) -> dict[KeyPath, int]:
    """Map each table header and key assignment to its 1-based line, in operator key-path form."""
    lines: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}  # array-of-tables path → how many elements so far
    table: KeyPath = ()
    in_multiline: str | None = None
    depth = 0  # inside a multi-line array: its lines are values, never headers or keys
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if depth > 0:
            depth = max(0, depth + _bracket_depth(line))
            continue
        header = _HEADER.match(line)
        if header:
            parts = _split_dotted(header.group(2))
            resolved: tuple[str | int, ...] = ()
            for i, part in enumerate(parts):
                resolved += (part,)
                last = i == len(parts) - 1
                if header.group(1) == "[[" and last:
                    arrays[resolved] = arrays.get(resolved, 0) + 1
                    resolved += (arrays[resolved] - 1,)
                elif resolved in arrays:
                    resolved += (arrays[resolved] - 1,)
            table = resolved
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            key = table + tuple(_split_dotted(assign.group(1)))
            lines.setdefault(key, number)
            rest = line[assign.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
            else:
                depth = max(0, _bracket_depth(rest))
    return lines


def toml_locator(text: str) -> LineOf:
    """Scans lazily: a valid file (the common case, 10,000 components in a benchmark) never pays."""
    scanned: dict[KeyPath, int] | None = None

    def line_of(parts: KeyPath, is_key: bool = False) -> int | None:
        nonlocal scanned
        if scanned is None:
            scanned = toml_lines(text)
        lines = scanned
        for end in range(len(parts), 0, -1):
            if parts[:end] in lines:
                return lines[parts[:end]]
        return None

    return line_of


def yaml_locator(root: yaml.Node | None) -> LineOf:
    """Walk the composed node tree; a mapping key's own line is used for the key's problems."""

    def line_of(parts: KeyPath, is_key: bool = False) -> int | None:
        node = root
        best = None if node is None else node.start_mark.line + 1
        for part in parts:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        best = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    return best
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                best = node.start_mark.line + 1
            else:
                return best
        return best

    return line_of


def yaml_duplicate_keys(root: yaml.Node | None) -> list[tuple[KeyPath, int, int]]:
    """Every key written twice in one mapping: (path, first line, repeated line)."""
    found: list[tuple[KeyPath, int, int]] = []

    visited: set[int] = set()

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if id(node) in visited:  # an alias: already walked where its anchor is
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        found.append((path + (key_node.value,), seen[key_node.value], line))
                    else:
                        seen[key_node.value] = line
                    walk(value_node, path + (key_node.value,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    if root is not None:
        walk(root, ())
    return found
