"""The README's config reference names every key the config models accept, and every value a choice
allows — so a key cannot exist that an operator has no way to learn about (as sqlite-utils' tests do
for its CLI). Whoever adds a field to `daemon/config/models.py` documents it in the same change.

A key counts as documented when the README section for the file it is written in shows it as `key`,
as `key = …` in a TOML example, or as `[key]`/`[[key]]`. A choice (a `Literal` value) counts when it
appears in that section as a word.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from daemon.config import models

README = Path(__file__).resolve().parents[1] / "README.md"

#: file model → (how an operator calls that file, the README headings that document it)
ROOTS: dict[type[BaseModel], tuple[str, tuple[str, ...]]] = {
    models.PolicyFile: (
        "policies.d/*.toml",
        ("### Components (`policies.d/`)", "### The recovery ladder", "## Between incidents"),
    ),
    models.SettingsFile: (
        "healerd.toml",
        (
            "### `healerd.toml`",
            "## Between incidents",
            "## HTTP: metrics, JSON API and the status page",
            "## Fleet mode: one PostgreSQL for every host",
        ),
    ),
    models.ExperimentFile: ("experiments.d/*.toml", ("### Chaos experiments (`experiments.d/`)",)),
}


@dataclass(frozen=True)
class Key:
    model: type[BaseModel]
    field: str
    key: str  # as the operator writes it (the alias, if any)
    path: str  # operator key path, e.g. daemon.max_queue or component.check.timeout
    choices: tuple[str, ...]


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _choices(annotation: object) -> Iterator[str]:
    if typing.get_origin(annotation) is typing.Literal:
        yield from (str(v) for v in typing.get_args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        yield from (str(m.value) for m in annotation)
    else:
        for arg in typing.get_args(annotation):
            yield from _choices(arg)


def keys(model: type[BaseModel], prefix: str = "") -> Iterator[Key]:
    """Every key reachable from `model`, depth first, with its operator path."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        yield Key(model, name, key, path, tuple(_choices(info.annotation)))
        for sub in _models_in(info.annotation):
            inner = f"{path}.NAME." if typing.get_origin(info.annotation) is dict else f"{path}."
            yield from keys(sub, inner)


def sections(headings: tuple[str, ...]) -> str:
    """The text under each heading, up to the next heading of the same or a higher level."""
    text = README.read_text()
    out = []
    for heading in headings:
        assert heading in text, f"README.md has no section {heading!r} (the reference test reads it)"
        start = text.index(heading)
        level = heading.split(" ", 1)[0]
        following = re.compile(rf"^#{{1,{len(level)}}} ", re.M)
        end = following.search(text, start + len(heading))
        out.append(text[start : end.start() if end else len(text)])
    return "\n".join(out)


def documented(key: str, text: str) -> bool:
    k = re.escape(key)
    return bool(re.search(rf"`{k}`|(?<![\w.-]){k}\s*=|\[\[?(?:[\w.]+\.)?{k}(?:\.[\w.-]+)?\]\]?", text))


def undocumented() -> list[str]:
    """One line per (model, field) or choice the README lacks, naming the model, the field and where
    an operator writes it. A model used in several files (an action: ladder steps, `on_change`,
    `rollback`) is documented once, in any of their sections."""
    found: dict[tuple[type[BaseModel], str], tuple[Key, list[str], list[str]]] = {}
    for root, (file, headings) in ROOTS.items():
        for k in keys(root):
            _, files, heads = found.setdefault((k.model, k.field), (k, [], []))
            if file not in files:
                files.append(file)
                heads.extend(headings)
    missing = []
    for (model, field), (k, files, heads) in found.items():
        text = sections(tuple(heads))
        where = (
            f"{model.__name__}.{field} in daemon/config/models.py, written `{k.path}` in "
            f"{' or '.join(files)}; document it under {' or '.join(heads)}"
        )
        if not documented(k.key, text):
            missing.append(f"README.md lacks key `{k.key}` ({where})")
        for choice in k.choices:
            if not re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", text):
                missing.append(f"README.md lacks value {choice!r} of `{k.key}` ({where})")
    return missing


def test_every_config_key_and_choice_is_in_the_readme_reference():
    missing = undocumented()
    assert not missing, "undocumented config:\n" + "\n".join(missing)


def test_the_reference_check_sees_nested_aliased_and_mapped_keys():
    """The walk itself: a key deep in a union, an alias, and a dict of channels are all found."""
    settings = {k.path for k in keys(models.SettingsFile)}
    assert {"daemon.max_queue", "notify.NAME.from", "degradation.flag.off_at"} <= settings
    policies = {k.path: k for k in keys(models.PolicyFile)}
    assert {"component.check.timeout", "component.recovery.backoff.jitter", "checkpoint.keep"} <= set(policies)
    assert "dry-run" in {c for k in keys(models.ExperimentFile) for c in k.choices}
    assert not documented("max_queue", "max_queued = 1\n`max_queues`") and documented("max_queue", "max_queue = 1")


def toml_blocks(headings: tuple[str, ...]) -> str:
    return "\n".join(re.findall(r"```toml\n(.*?)```", sections(headings), re.S))


def test_the_readme_examples_are_valid_config():
    """Each file's examples, read as one file, pass its model: a documented key or value the
    models refuse is as wrong as a missing one. (Cross-file references are not checked here.)"""
    import tomllib

    for root, (file, headings) in ROOTS.items():
        # the file's own reference sections (`###`); the feature sections (`##`) mix several files' examples
        text = toml_blocks(tuple(h for h in headings if h.startswith("### ")))
        assert text, f"no TOML example under {headings}"
        try:
            root.model_validate(tomllib.loads(text))
        except Exception as exc:  # the message names the key at fault
            raise AssertionError(f"the README's {file} example is not valid config:\n{exc}") from None
