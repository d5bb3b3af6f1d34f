"""What is wrong with a config directory, said the way an operator can act on it.

A `Problem` names the file (relative to the config directory, as the operator wrote it), the key path in
operator form (`component[0].check.timeout`, not pydantic's `('component', 0, 'check', 'tcp',
'timeout')`), the line where we can find it, and a message. The same four fields go to `healerd check`,
to the log on a rejected reload and to the `config_errors` table, so they are plain data.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from daemon.config.models import NAME_PATTERN

#: A key path as parts: strings are keys, ints are list indexes.
KeyPath = tuple[str | int, ...]

#: Keys whose value selects the member of a tagged union. Pydantic inserts that value into an error's
#: loc (`check.tcp.port`); operators never wrote it, so it is stripped again.
DISCRIMINATORS = ("kind", "strategy")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: What a key an operator meant to write looks like; anything else is reported without its text.
_PLAUSIBLE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


#: Longest echo of an operator's value (a key, a name, a tag) in a problem: a 1 MB invalid name must
#: not be copied whole into config_errors, the log and `healerd check`.
MAX_ECHO = 80
#: Backstops for the whole fields, whatever produced them.
MAX_KEY, MAX_MESSAGE, MAX_PATH = 200, 500, 300


def shown(value: Any) -> str:
    """`repr(value)`, cut to MAX_ECHO characters with the full length said."""
    text = repr(value)
    if len(text) <= MAX_ECHO:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters shown as text"
    return f"{text[:MAX_ECHO]}… ({size})"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    key: str
    message: str
    line: int | None = None

    def __post_init__(self) -> None:
        # Names that are not valid UTF-8 arrive from os.listdir with surrogate escapes, which neither
        # SQLite nor a UTF-8 log can take: shown escaped (b'\xff'), never raised on.
        for name, limit in (("path", MAX_PATH), ("key", MAX_KEY), ("message", MAX_MESSAGE)):
            text = printable(str(getattr(self, name)))
            object.__setattr__(self, name, _cap(text, limit))

    def __str__(self) -> str:
        where = self.path
        if self.key:
            where += f": {self.key}"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line or 0, self.key, self.message)


def printable(text: str) -> str:
    """Text any UTF-8 sink accepts: undecodable bytes (surrogate escapes) become `\\xff`."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def format_key(parts: Iterable[str | int]) -> str:
    """`('component', 0, 'check', 'timeout')` → `component[0].check.timeout`.

    Keys that are not bare TOML keys (a channel named `ops.pager`) are quoted as TOML would quote them,
    so the path stays unambiguous.
    """
    out = ""
    for part in parts:
        if isinstance(part, str) and len(part) > MAX_ECHO:
            part = f"{part[:MAX_ECHO]}…({len(part)} characters)"
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += ("." if out else "") + text
    return out


def operator_path(loc: tuple[Any, ...], data: Any) -> tuple[KeyPath, bool]:
    """Translate a pydantic loc into the key path the operator wrote, walking the input data alongside.

    Returns the path and whether the error is about a mapping key itself (pydantic's `[key]` marker).
    A discriminator tag is recognised as the loc element right after a mapping that equals the mapping's
    own `kind`/`strategy` value. Pydantic always puts the tag first, so at most one is skipped per
    mapping: a `run` fault has both `kind = "run"` and a `run` key, and its loc reads `run, run, 0`.
    """
    parts: list[str | int] = []
    node = data
    tag_skipped = False
    is_key_error = False
    for element in loc:
        if element == "[key]":
            is_key_error = True
            continue
        if isinstance(node, dict) and not tag_skipped and isinstance(element, str):
            tags = {node.get(d) for d in DISCRIMINATORS if isinstance(node.get(d), str)}
            if element in tags:
                tag_skipped = True
                continue
        parts.append(element)
        tag_skipped = False
        if isinstance(node, dict):
            node = node.get(element)
        elif isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            node = node[element]
        else:
            node = None
    return tuple(parts), is_key_error


def _unwrap(tp: Any, data: Any) -> Any:
    """Peel Annotated and Optional, and pick a tagged union's member by the data's `kind`/`strategy`."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            for member in members:
                for key in DISCRIMINATORS:
                    field = getattr(member, "model_fields", {}).get(key)
                    if (
                        field is not None
                        and isinstance(data, dict)
                        and data.get(key) in typing.get_args(field.annotation)
                    ):
                        return member
            return None
        else:
            return tp


def allowed_keys(model: type[BaseModel], parts: KeyPath, data: Any) -> list[str]:
    """The keys the operator could have meant at `parts` (for "did you mean"), or [] if unknown."""
    tp: Any = model
    for part in parts:
        tp = _unwrap(tp, data)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            fields = {(f.alias or name): f for name, f in tp.model_fields.items()}
            if part not in fields:
                return []
            tp = fields[part].annotation
        elif typing.get_origin(tp) is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
        data = (
            data.get(part)
            if isinstance(data, dict)
            else data[part]
            if isinstance(data, list) and isinstance(part, int) and part < len(data)
            else None
        )
    tp = _unwrap(tp, data)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key (unknown keys are refused, so that a typo cannot pass silently)"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown {ctx.get('discriminator', 'kind').strip(chr(39))} {shown(ctx.get('tag'))} (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return f"{ctx.get('discriminator', 'kind').strip(chr(39))} is missing"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return f"{shown(error.get('input'))} is not a valid name: lowercase letters, digits, '_', '.' and '-', starting with a letter or digit"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == r"^https?://":
        return f"{shown(error.get('input'))} is not an http:// or https:// URL"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    message: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def from_validation_error(
    exc: ValidationError,
    path: str,
    data: Any,
    line_of: Callable[[KeyPath, bool], int | None] = lambda parts, is_key: None,
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """Every error of one file's validation, as problems with operator key paths and lines.

    With the file's `model`, an unknown key gets a "did you mean" from the keys allowed where it is.
    """
    problems = []
    for error in exc.errors(include_url=False):
        parts, is_key = operator_path(tuple(error["loc"]), data)
        message = _message(error)
        if is_key and "name" not in message:
            message = f"bad name: {message}"
        if (
            error["type"] == "extra_forbidden"
            and parts
            and isinstance(parts[-1], str)
            and not _PLAUSIBLE_KEY.match(parts[-1])
        ):
            # not a key anyone meant to write (a line of some other file): never echoed, the line says where
            line = line_of(parts, True)
            problems.append(
                Problem(path, format_key(parts[:-1]), "unknown key that is not a config key (not shown)", line)
            )
            continue
        if error["type"] == "extra_forbidden" and model is not None and parts and isinstance(parts[-1], str):
            close = difflib.get_close_matches(parts[-1], allowed_keys(model, parts[:-1], data), n=1)
            if close:
                message = f"unknown key; did you mean {close[0]!r}? (unknown keys are refused)"
        problems.append(
            Problem(path, format_key(parts), message, line_of(parts, error["type"] == "extra_forbidden" or is_key))
        )
    return problems
