"""Read a config directory into `(LoadedConfig | None, problems)`, at startup and on every reload.

Startup and `healerd check` (no `previous`): any problem at all means no config — the daemon refuses
to start rather than run half of what the operator wrote.

Reload (`previous` = the config in force): Monit and supervisord exit on a bad reload; healerd keeps
running what it knows is good, file by file.

- A file that fails on its own (syntax, unknown key, refused permissions) is rejected and its last good
  version stays in force; a *new* file that fails is simply not loaded. The problem is still returned.
- A deleted file is removed.
- Cross-file problems (a dangling reference, a duplicate name, a cycle) are blamed on the files involved
  that changed since `previous`; those are rolled back to their last good version (or left out when
  new) and the assembly is tried again, so one bad edit does not hold up good edits elsewhere.
- If problems remain that no changed file can be blamed for (an unchanged file references a component
  that a deleted file held), or the directory itself cannot be trusted, the result is None and the caller
  keeps `previous` whole.

Never raises for bad input, never touches the database: the caller records the problems.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from daemon.config.files import SETTINGS_FILE, SUBDIRS, ParsedFile, list_entries, read_file
from daemon.config.models import (
    Checkpoint,
    Component,
    Experiment,
    ExperimentFile,
    HealerdConfig,
    PolicyFile,
    SettingsFile,
)
from daemon.config.problems import Problem
from daemon.config.programs import program_problems
from daemon.config.references import Finding, cross_check


@dataclass(frozen=True, eq=False)
class LoadedConfig:
    """The assembled config plus the per-file parses it came from, for the next reload to fall back on."""

    directory: Path
    config: HealerdConfig
    #: relpath ("policies.d/app.toml") → the parse in force (its sha256 and mtime_ns included).
    files: dict[str, ParsedFile] = field(default_factory=dict)
    #: files whose version on disk was rejected, so an older version of them is in force.
    held: frozenset[str] = frozenset()
    #: relpath → the rejected parse of its bytes on disk (with their sha256): unchanged bad bytes are not
    #: parsed again on the next reload (a directory of many bad files made every reload slow).
    rejected: dict[str, ParsedFile] = field(default_factory=dict)

    def summary(self) -> str:
        """`3 components, 1 checkpoint, 2 channels, 1 experiment`: for `healerd check` and sd_notify."""
        counts = (
            (len(self.config.components), "component"),
            (len(self.config.checkpoints), "checkpoint"),
            (len(self.config.settings.notify), "channel"),
            (len(self.config.experiments), "experiment"),
        )
        return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)


def assemble(files: list[ParsedFile], directory: Path | None = None) -> HealerdConfig:
    """Merge parsed files into one config; the first definition of a name wins (duplicates are problems)."""
    settings = SettingsFile()
    components: dict[str, Component] = {}
    checkpoints: dict[str, Checkpoint] = {}
    experiments: dict[str, Experiment] = {}
    sources: dict[str, str] = {}
    for pf in files:
        model = pf.model
        if isinstance(model, SettingsFile):
            settings = model
            for name in model.notify:
                sources.setdefault(f"notify.{name}", pf.relpath)
        elif isinstance(model, PolicyFile):
            for comp in model.component:
                if comp.name not in sources:
                    components[comp.name] = comp
                    sources[comp.name] = pf.relpath
            for cp in model.checkpoint:
                if cp.name not in sources:
                    checkpoints[cp.name] = cp
                    sources[cp.name] = pf.relpath
        elif isinstance(model, ExperimentFile):
            exp = model.experiment
            if exp.name not in sources:
                experiments[exp.name] = exp
                sources[exp.name] = pf.relpath
    return HealerdConfig(
        settings=settings,
        components=components,
        checkpoints=checkpoints,
        experiments=experiments,
        directory=None if directory is None else str(directory),
        sources=sources,
    )


def changed_on_disk(loaded: LoadedConfig) -> bool:
    """Whether the directory now differs from what `loaded` was read from (names or mtimes).

    Cheap (a listing and a stat per file): the watcher calls it once it is live, to catch a change
    made between the load and the moment the watcher started listening.
    """
    entries, problems = list_entries(loaded.directory)
    if entries is None or problems:  # a stray file (e.g. a name that is not UTF-8) must still be named
        return True
    if {e.relpath for e in entries} != set(loaded.files):
        return True
    for entry in entries:
        try:
            mtime = entry.path.stat().st_mtime_ns
        except OSError:
            return True
        if mtime != loaded.files[entry.relpath].mtime_ns:
            return True
    return False


def directory_signature(directory: Path) -> frozenset[tuple[bytes, bytes | None, int, int, int, int]]:
    """Names (as bytes), sizes and mtimes of everything the loader may read: the polling watcher's view.

    Bytes, not str: a file name that is not valid UTF-8 is exactly what broke watchfiles' watcher and
    its own polling (issue 16); here it is one more name whose appearance triggers a reload.
    """
    root = os.fsencode(directory)
    seen: set[tuple[bytes, bytes | None, int, int, int, int]] = set()
    for sub in (b"", *(os.fsencode(s) for s in SUBDIRS)):
        folder = os.path.join(root, sub) if sub else root
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if sub or entry.name == os.fsencode(SETTINGS_FILE):
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        seen.add((sub, entry.name, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode))
        except OSError:
            seen.add((sub, None, 0, 0, 0, 0))
    return frozenset(seen)


def _changed(pf: ParsedFile, previous: LoadedConfig) -> bool:
    return previous.files.get(pf.relpath) is not pf


def load_config(
    directory: Path, *, previous: LoadedConfig | None = None, env: Mapping[str, str] | None = None
) -> tuple[LoadedConfig | None, list[Problem]]:
    """See the module docstring for the rules; problems come sorted by file and line. `env` fills the
    `${VAR}`s (default: this process's environment; the CLI passes the running daemon's)."""
    directory = Path(directory).absolute()
    entries, problems = list_entries(directory)
    if entries is None:
        return None, _sorted(problems)
    chosen: dict[str, ParsedFile] = {}
    held: set[str] = set()
    rejected: dict[str, ParsedFile] = {}
    for entry in entries:
        before = previous.files.get(entry.relpath) if previous is not None else None
        parsed = read_file(directory, entry, before, previous.rejected.get(entry.relpath) if previous else None, env)
        untrusted = program_problems(parsed.model, directory, parsed.relpath, parsed.line_of) if parsed.model else []
        if parsed.model is not None and not untrusted:
            chosen[entry.relpath] = parsed
            continue
        if untrusted:  # not cached as rejected: fixing the program's mode alone must make the file load
            parsed = ParsedFile(parsed.relpath, parsed.kind, None, problems=tuple(untrusted))
        if parsed.sha256:  # kept without its line locator, which holds the whole text
            rejected[entry.relpath] = ParsedFile(
                parsed.relpath, parsed.kind, None, parsed.sha256, parsed.mtime_ns, problems=parsed.problems
            )
        problems.extend(parsed.problems)
        if before is not None:
            chosen[entry.relpath] = before
            held.add(entry.relpath)

    findings = cross_check(_in_force_first(chosen, previous))
    while previous is not None and findings:
        blamed = _blame(findings, chosen, previous)
        if not blamed:
            break
        problems.extend(f.problem for f in findings if f.files & blamed)
        for relpath in blamed:
            if relpath in previous.files:
                chosen[relpath] = previous.files[relpath]
                held.add(relpath)
            else:
                del chosen[relpath]
        findings = cross_check(_in_force_first(chosen, previous))
    problems.extend(f.problem for f in findings)

    if findings or (previous is None and problems):
        return None, _sorted(problems)
    ordered = [chosen[e.relpath] for e in entries if e.relpath in chosen]
    try:
        config = assemble(ordered, directory)
    except Exception as exc:  # a model rule only the whole can break; never crash on input
        return None, _sorted(problems + [Problem(str(directory), "", f"could not be assembled: {exc}")])
    loaded = LoadedConfig(directory, config, {pf.relpath: pf for pf in ordered}, frozenset(held), rejected)
    return loaded, _sorted(problems)


def load_what_loads(directory: Path, env: Mapping[str, str] | None = None) -> tuple[LoadedConfig | None, list[Problem]]:
    """The directory as a reload onto an empty config would take it: every file that loads on its own,
    without the rejected ones (and without both sides of a cross-file problem), plus every problem.

    For CLI verbs that act on one named thing (`check --run`, `notify test`, `chaos list`, `checkpoint`,
    `config show`): one bad file elsewhere must not make a good component unreachable from the CLI,
    as it made them before. The daemon's start-up stays strict (load_config without `previous`).
    """
    loaded, problems = load_config(directory, env=env)
    if loaded is not None or not problems:
        return loaded, problems
    directory = Path(directory).absolute()
    empty = LoadedConfig(directory, assemble([], directory))
    partial, partial_problems = load_config(directory, previous=empty, env=env)
    return partial, _sorted(problems + partial_problems)


def _in_force_first(chosen: dict[str, ParsedFile], previous: LoadedConfig | None) -> list[ParsedFile]:
    """On reload, unchanged files first: a duplicate name is then reported at the newcomer, not at the
    definition that was already in force (otherwise name order decides)."""
    files = list(chosen.values())
    return files if previous is None else sorted(files, key=lambda pf: _changed(pf, previous))


def _blame(findings: list[Finding], chosen: dict[str, ParsedFile], previous: LoadedConfig) -> set[str]:
    """Changed files involved in a finding: rolling them back is what can make the rest consistent."""
    changed = {relpath for relpath, pf in chosen.items() if _changed(pf, previous)}
    return {relpath for f in findings for relpath in f.files & changed}


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = dict.fromkeys(problems)
    return sorted(unique, key=Problem.sort_key)
