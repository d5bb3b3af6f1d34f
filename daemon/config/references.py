"""Rules that span files: unique names, references that resolve, no dependency cycles.

Namespaces (the issue says names are unique "across the whole directory"; it is silent on kinds):

- components, checkpoints and experiments share **one** namespace. They are what operator commands
  and the `target` of an experiment name, and `HealerdConfig.sources` is keyed by bare name, so `app`
  must mean one thing wherever it appears.
- notify channels have their own namespace: they are only ever named by `notify = [...]`, and a
  channel called `db` (the DB team's pager) next to a component `db` is natural.
- degradation flags have their own namespace: a flag usually names a feature after the component that
  provides it (`search`), and flags only reference flags and components.

Each finding carries every file involved, so a reload can tell which changed file to reject. Pure: no
I/O, the files come already parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from daemon.config.files import ParsedFile
from daemon.config.models import (
    Action,
    Checkpoint,
    Component,
    EscalateStep,
    Experiment,
    ExperimentFile,
    FallbackStep,
    Flag,
    KillFault,
    MaintenanceWindow,
    PolicyFile,
    ProcessCheck,
    RestoreStep,
    RetryStep,
    SettingsFile,
)
from daemon.config.problems import KeyPath, Problem, format_key


@dataclass(frozen=True)
class Finding:
    problem: Problem
    files: frozenset[str]


@dataclass(frozen=True)
class Definition:
    kind: str  # component | checkpoint | experiment | channel | flag | maintenance
    name: str
    file: ParsedFile
    parts: KeyPath  # where the definition is, e.g. ("component", 0)
    name_parts: KeyPath  # where its name is written
    value: Component | Checkpoint | Experiment | Flag | object


def _problem(pf: ParsedFile, parts: KeyPath, message: str, is_key: bool = False) -> Problem:
    return Problem(pf.relpath, format_key(parts), message, pf.line_of(parts, is_key))


def definitions(files: list[ParsedFile]) -> list[Definition]:
    found: list[Definition] = []
    for pf in files:
        model = pf.model
        if isinstance(model, PolicyFile):
            for i, comp in enumerate(model.component):
                found.append(Definition("component", comp.name, pf, ("component", i), ("component", i, "name"), comp))
            for i, cp in enumerate(model.checkpoint):
                found.append(Definition("checkpoint", cp.name, pf, ("checkpoint", i), ("checkpoint", i, "name"), cp))
        elif isinstance(model, ExperimentFile):
            exp = model.experiment
            found.append(Definition("experiment", exp.name, pf, ("experiment",), ("experiment", "name"), exp))
        elif isinstance(model, SettingsFile):
            for name, channel in model.notify.items():
                found.append(Definition("channel", name, pf, ("notify", name), ("notify", name), channel))
            for i, flag in enumerate(model.degradation.flag):
                parts = ("degradation", "flag", i)
                found.append(Definition("flag", flag.name, pf, parts, parts + ("name",), flag))
            for i, window in enumerate(model.maintenance):
                found.append(
                    Definition("maintenance", window.name, pf, ("maintenance", i), ("maintenance", i, "name"), window)
                )
    return found


def _namespace(kind: str) -> str:
    return kind if kind in ("channel", "flag", "maintenance") else "object"


def _where(d: Definition) -> str:
    line = d.file.line_of(d.name_parts, False)
    return d.file.relpath + (f" (line {line})" if line else "")


def duplicate_names(defs: list[Definition]) -> Iterator[Finding]:
    first: dict[tuple[str, str], Definition] = {}
    for d in defs:
        key = (_namespace(d.kind), d.name)
        if key not in first:
            first[key] = d
            continue
        original = first[key]
        yield Finding(
            _problem(
                d.file, d.name_parts, f"name {d.name!r} is already used by the {original.kind} in {_where(original)}"
            ),
            frozenset({d.file.relpath, original.file.relpath}),
        )


def _has_process(comp: Component) -> bool:
    return comp.pidfile is not None or (isinstance(comp.check, ProcessCheck) and comp.check.match is not None)


def _step_actions(comp: Component, base: KeyPath) -> Iterator[tuple[KeyPath, Action]]:
    for j, step in enumerate(comp.recovery):
        here = base + ("recovery", j)
        if isinstance(step, RetryStep):
            yield here + ("action",), step.action
        elif isinstance(step, RestoreStep) and step.then is not None:
            yield here + ("then",), step.then
        elif isinstance(step, FallbackStep):
            yield here + ("activate",), step.activate
            if step.deactivate is not None:
                yield here + ("deactivate",), step.deactivate


class _Resolver:
    """Looks names up in their namespace and words the problem when a reference does not resolve."""

    def __init__(self, defs: list[Definition]) -> None:
        self.by_name: dict[tuple[str, str], Definition] = {}
        for d in defs:
            self.by_name.setdefault((_namespace(d.kind), d.name), d)

    def get(self, kind: str, name: str) -> Definition | None:
        d = self.by_name.get((_namespace(kind), name))
        return d if d is not None and d.kind == kind else None

    def check(self, pf: ParsedFile, parts: KeyPath, kind: str, name: str) -> Finding | None:
        d = self.by_name.get((_namespace(kind), name))
        if d is not None and d.kind == kind:
            return None
        if d is not None:
            message = f"{name!r} is a {d.kind} ({_where(d)}), not a {kind}"
        elif kind == "channel":
            message = f"no notify channel {name!r}: declare [notify.{name}] in healerd.toml"
        else:
            message = f"no {kind} named {name!r} in this config directory"
        return Finding(_problem(pf, parts, message), frozenset({pf.relpath}) | ({d.file.relpath} if d else set()))


def _component_refs(d: Definition, comp: Component) -> Iterator[tuple[KeyPath, str, str] | Finding]:
    pf, base = d.file, d.parts
    yield from ((base + ("depends_on", j), "component", n) for j, n in enumerate(comp.depends_on))
    for j, step in enumerate(comp.recovery):
        here = base + ("recovery", j)
        if isinstance(step, RestoreStep):
            yield here + ("checkpoint",), "checkpoint", step.checkpoint
        elif isinstance(step, FallbackStep):
            for k, cand in enumerate(step.candidates):
                if cand == comp.name:
                    yield Finding(
                        _problem(pf, here + ("candidates", k), "a component cannot be its own fallback"),
                        frozenset({pf.relpath}),
                    )
                else:
                    yield here + ("candidates", k), "component", cand
        elif isinstance(step, EscalateStep):
            yield from ((here + ("notify", k), "channel", n) for k, n in enumerate(step.notify))
    if not _has_process(comp):
        for parts, action in _step_actions(comp, base):
            if action.signal is not None:
                message = "a signal action needs the component's pidfile or a process check with match"
                yield Finding(_problem(pf, parts + ("signal",), message), frozenset({pf.relpath}))


def _experiment_refs(d: Definition, exp: Experiment, r: _Resolver) -> Iterator[tuple[KeyPath, str, str] | Finding]:
    yield d.parts + ("target",), "component", exp.target
    target = r.get("component", exp.target)
    if (
        isinstance(exp.fault, KillFault)
        and target is not None
        and isinstance(target.value, Component)
        and not _has_process(target.value)
    ):
        message = (
            f"a kill fault needs the target's process: give {exp.target!r} a pidfile or a process check with match"
        )
        yield Finding(_problem(d.file, d.parts + ("fault",), message), frozenset({d.file.relpath, target.file.relpath}))


def dangling_references(defs: list[Definition]) -> Iterator[Finding]:
    r = _Resolver(defs)
    for d in defs:
        base = d.parts
        refs: Iterator[tuple[KeyPath, str, str] | Finding] = iter(())
        if isinstance(d.value, Component):
            refs = _component_refs(d, d.value)
        elif isinstance(d.value, Checkpoint) and d.value.component is not None:
            refs = iter([(base + ("component",), "component", d.value.component)])
        elif isinstance(d.value, Experiment):
            refs = _experiment_refs(d, d.value, r)
        elif isinstance(d.value, MaintenanceWindow):
            refs = iter([(base + ("components", j), "component", n) for j, n in enumerate(d.value.components)])
        elif isinstance(d.value, Flag):
            refs = iter(
                [(base + ("depends_on", j), "flag", n) for j, n in enumerate(d.value.depends_on)]
                + [(base + ("components", j), "component", n) for j, n in enumerate(d.value.components)]
            )
        for ref in refs:
            finding = ref if isinstance(ref, Finding) else r.check(d.file, *ref)
            if finding is not None:
                yield finding
    yield from _settings_signal(defs)


def _settings_signal(defs: list[Definition]) -> Iterator[Finding]:
    for pf in {id(d.file): d.file for d in defs}.values():
        on_change = pf.model.degradation.on_change if isinstance(pf.model, SettingsFile) else None
        if on_change is not None and on_change.signal is not None:
            yield Finding(
                _problem(
                    pf,
                    ("degradation", "on_change", "signal"),
                    "a signal action needs a component's process; use run or http here",
                ),
                frozenset({pf.relpath}),
            )


def checkpoint_owners(defs: list[Definition]) -> Iterator[Finding]:
    """A checkpoint is taken only while its component is healthy, so it needs exactly one owner."""
    restorers: dict[str, list[Definition]] = {}
    for d in defs:
        if isinstance(d.value, Component):
            for step in d.value.recovery:
                if isinstance(step, RestoreStep):
                    restorers.setdefault(step.checkpoint, []).append(d)
    for d in defs:
        if not isinstance(d.value, Checkpoint) or d.value.component is not None:
            continue
        owners = restorers.get(d.name, [])
        if not owners:
            message = 'no component owns this checkpoint: set component = "NAME" or name it in a restore step'
        elif len({o.name for o in owners}) > 1:
            names = ", ".join(sorted({o.name for o in owners}))
            message = (
                f'restored by several components ({names}): set component = "NAME" to say whose health gates taking it'
            )
        else:
            continue
        yield Finding(
            _problem(d.file, d.parts, message), frozenset({d.file.relpath} | {o.file.relpath for o in owners})
        )


def _depends_on(value: object) -> list[str]:
    """What a component or a flag depends on (the two kinds that can form cycles)."""
    if not isinstance(value, (Component, Flag)):
        raise TypeError(f"{type(value).__name__} has no depends_on")
    return list(value.depends_on)


def cycles(defs: list[Definition], kind: str) -> Iterator[Finding]:
    """Each dependency cycle once, as `a → b → a`, reported at its alphabetically first member."""
    nodes = {d.name: d for d in defs if d.kind == kind}
    depends = {name: _depends_on(d.value) for name, d in nodes.items()}
    edges = {name: [dep for dep in deps if dep in nodes] for name, deps in depends.items()}
    seen_cycles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(root: str) -> Iterator[tuple[str, ...]]:
        """Iterative DFS: a chain of thousands of dependencies must not hit Python's recursion limit."""
        path = [root]
        todo = [iter(edges[root])]
        state[root] = 1
        while todo:
            dep = next(todo[-1], None)
            if dep is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(dep) == 1:
                cycle = path[path.index(dep) :]
                start = cycle.index(min(cycle))
                yield tuple(cycle[start:] + cycle[:start])
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                todo.append(iter(edges[dep]))

    for name in sorted(nodes):
        if name in state:
            continue
        for cycle in visit(name):
            if cycle in seen_cycles:
                continue
            seen_cycles.add(cycle)
            shown = cycle + (cycle[0],) if len(cycle) <= 12 else cycle[:10] + ("…", cycle[-1], cycle[0])
            path = " → ".join(shown) + (f" ({len(cycle)} components)" if len(cycle) > 12 else "")
            files = frozenset(nodes[n].file.relpath for n in cycle)
            # One problem in every file the cycle runs through (at its first member there): a cycle
            # across two files is both files' problem, and both are rolled back on a reload.
            reported: set[str] = set()
            for i, member in enumerate(cycle):
                head = nodes[member]
                if head.file.relpath in reported:
                    continue
                reported.add(head.file.relpath)
                j = depends[member].index(cycle[(i + 1) % len(cycle)])
                yield Finding(_problem(head.file, head.parts + ("depends_on", j), f"dependency cycle: {path}"), files)


def cross_check(files: list[ParsedFile]) -> list[Finding]:
    """Every cross-file finding, in a stable order."""
    defs = definitions([pf for pf in files if pf.model is not None])
    findings = [
        *duplicate_names(defs),
        *dangling_references(defs),
        *checkpoint_owners(defs),
        *cycles(defs, "component"),
        *cycles(defs, "flag"),
    ]
    return sorted(findings, key=lambda f: f.problem.sort_key())
