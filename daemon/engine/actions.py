"""Perform one recovery action — `run`, `signal` or `http` — and say what happened, never raising.

The healer records an action's outcome in `recovery_events` whatever it was, so every failure (a
program that is missing, a process that is gone, a connection refused, a timeout) comes back as an
`ActionOutcome` with `ok=False` and a sentence; only cancellation propagates (and `run_argv` kills the
process group on the way out, so a cancelled action leaves nothing running).

Templating is deliberately narrow: `{component}`, `{candidate}`, `{pid}` and `{incident}` are replaced
inside argv elements, in one pass (a value is never scanned again, so it cannot smuggle in another
placeholder), and argv never reaches a shell. Any other `{x}` stays as written — a program may want
literal braces. A placeholder whose value is not known (`{pid}` when no process is found, `{candidate}`
outside a fallback) fails the action: running `kill -HUP ""` or `route_to ""` would be a guess.
`{pid}` is the pidfile's pid, or the lowest pid matching the process check's `match`; a `signal` action
goes to every matching process (as pkill would: a `match` naming several workers means all of them).

`run` actions get the config directory as working directory (the config loader resolves path fields
against it, and argv like `services/restart.py` in the examples is written relative to it), plus
HEALERD_COMPONENT / HEALERD_CANDIDATE / HEALERD_INCIDENT in the environment. HTTP bodies and URLs are
not templated: the rule is "argv elements only".
"""

from __future__ import annotations

import asyncio
import os
import re
import signal as _signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import structlog

from daemon.config.models import Action, Component, ProcessCheck
from daemon.engine.checks.process import Found, find_processes
from daemon.engine.proc import run_argv

log = structlog.get_logger(__name__)

#: Characters of output kept for `recovery_events.output`: enough for a stack trace's end, small
#: enough that a chatty restart script cannot bloat the database.
OUTPUT_TAIL = 4000
#: Bytes of an http action's response body kept.
HTTP_BODY_TAIL = 1000
PLACEHOLDERS = ("component", "candidate", "pid", "incident")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class ActionContext:
    """Who the action is for. `pid` is looked up only when `signal` or `{pid}` needs it.

    `pidfile`/`match` say how to find the component's process (as its process check would); an
    explicit `pid` wins over both. `find_pid` replaces the lookup entirely (tests, or a caller that
    already knows). `env` is added to healerd's environment, under the action's own `env`.
    """

    component: str
    candidate: str | None = None
    incident: int | str | None = None
    cwd: str | os.PathLike[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    pid: int | None = None
    pidfile: str | None = None
    match: str | None = None
    find_pid: Callable[[], Found] | None = None
    #: record what would run, run nothing (chaos experiments with `actions = "dry-run"`).
    dry_run: bool = False

    @classmethod
    def for_component(
        cls,
        component: Component,
        *,
        cwd: str | os.PathLike[str] | None,
        candidate: str | None = None,
        incident: int | str | None = None,
        env: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> ActionContext:
        """The usual context: the component's pidfile and, for a process check, its `match`."""
        match = component.check.match if isinstance(component.check, ProcessCheck) else None
        return cls(
            component=component.name,
            candidate=candidate,
            incident=incident,
            cwd=cwd,
            env=dict(env or {}),
            pidfile=component.pidfile,
            match=match,
            dry_run=dry_run,
        )


@dataclass(frozen=True)
class ActionOutcome:
    """What one action did. `output` is what `recovery_events.output` should hold."""

    ok: bool
    kind: str  # run | signal | http
    message: str
    exit_code: int | None = None  # run: exit code (-N = killed by signal N); http: status code
    duration_ms: float = 0.0
    output: str = ""
    timed_out: bool = False
    #: run: the argv as templated (what really ran); signal: the pids signalled.
    argv: tuple[str, ...] = ()
    pids: tuple[int, ...] = ()


class _Unresolved(Exception):
    """A placeholder has no value; the message says which and why."""


class _Resolver:
    """Placeholder values, with the pid looked up at most once and only if asked for."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self._found: Found | None = None

    async def processes(self) -> Found:
        if self._found is None:
            self._found = await asyncio.to_thread(self._lookup)
        return self._found

    def _lookup(self) -> Found:
        ctx = self.ctx
        if ctx.pid is not None:
            return Found((ctx.pid,))
        if ctx.find_pid is not None:
            return ctx.find_pid()
        if ctx.pidfile is None and ctx.match is None:
            return Found((), f"component {ctx.component} has no pidfile and no process match to find it by")
        check = ProcessCheck(kind="process", match=ctx.match)
        try:
            return find_processes(check, ctx.pidfile)
        except OSError as exc:  # /proc unreadable, pidfile unreadable
            return Found((), f"cannot look up the process: {exc}")

    async def value(self, name: str) -> str:
        ctx = self.ctx
        if name == "component":
            return ctx.component
        if name == "candidate":
            if ctx.candidate is None:
                raise _Unresolved("{candidate} has no value (only fallback steps have a candidate)")
            return ctx.candidate
        if name == "incident":
            if ctx.incident is None:
                raise _Unresolved("{incident} has no value (no incident)")
            return str(ctx.incident)
        found = await self.processes()
        if not found.pids:
            raise _Unresolved(f"{{pid}} has no value: {found.reason or 'no process found'}")
        return str(found.pids[0])


async def template_argv(argv: list[str] | tuple[str, ...], resolver: _Resolver) -> tuple[str, ...]:
    """Fill placeholders element by element, one regex pass each (values are never re-scanned)."""
    wanted = {m.group(1) for element in argv for m in _PLACEHOLDER.finditer(element)}
    values = {name: await resolver.value(name) for name in sorted(wanted)}
    return tuple(_PLACEHOLDER.sub(lambda m: values[m.group(1)], element) for element in argv)


def _tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def last_lines(output: str | None, lines: int = 3, width: int = 300) -> str:
    """The end of an action's output, where the reason it failed is (a stack trace's last line, the
    command's error): shown by `explain`, the log and escalations, which used to say only "exit 1"."""
    kept = [line.rstrip() for line in (output or "").splitlines() if line.strip() and line.strip() != "[stderr]"]
    tail = kept[-lines:]
    return "\n".join(line if len(line) <= width else line[: width - 1] + "…" for line in tail)


def combine_output(stdout: str, stderr: str) -> str:
    """stdout then stderr (marked), bounded to OUTPUT_TAIL by keeping the end: errors come last."""
    parts = [stdout.rstrip()] if stdout.strip() else []
    if stderr.strip():
        parts.append("[stderr]\n" + stderr.rstrip())
    return _tail("\n".join(parts))


def action_env(action: Action, ctx: ActionContext) -> dict[str, str]:
    env = dict(os.environ)
    env["HEALERD_COMPONENT"] = ctx.component
    if ctx.candidate is not None:
        env["HEALERD_CANDIDATE"] = ctx.candidate
    if ctx.incident is not None:
        env["HEALERD_INCIDENT"] = str(ctx.incident)
    env.update(ctx.env)
    env.update(action.env)  # the operator's config has the last word
    return env


def describe(action: Action) -> str:
    """A short label for logs and `recovery_events.action` details."""
    if action.run is not None:
        return "run " + " ".join(action.run)
    if action.signal is not None:
        return f"signal {action.signal}"
    assert action.http is not None
    return f"http {action.http.method} {action.http.url}"


async def run_action(action: Action, *, context: ActionContext) -> ActionOutcome:
    """Perform `action` for `context.component`; every failure is an outcome, never an exception."""
    kind = "run" if action.run is not None else "signal" if action.signal is not None else "http"
    started = time.monotonic()
    try:
        if kind == "run":
            outcome = await _run(action, context)
        elif kind == "signal":
            outcome = await _signal_process(action, context)
        else:
            outcome = await _http(action, context)
    except _Unresolved as exc:
        outcome = ActionOutcome(False, kind, f"not run: {exc}")
    except Exception as exc:
        log.exception("action.failed_unexpectedly", component=context.component, action=describe(action))
        outcome = ActionOutcome(False, kind, f"failed: {type(exc).__name__}: {exc}")
    if not outcome.duration_ms:
        outcome = _with_duration(outcome, started)
    log.info(
        "action.done",
        component=context.component,
        incident=context.incident,
        kind=kind,
        ok=outcome.ok,
        message=outcome.message,
        duration_ms=round(outcome.duration_ms, 1),
    )
    return outcome


def _with_duration(outcome: ActionOutcome, started: float) -> ActionOutcome:
    return replace(outcome, duration_ms=(time.monotonic() - started) * 1000.0)


async def _run(action: Action, ctx: ActionContext) -> ActionOutcome:
    assert action.run is not None
    argv = await template_argv(action.run, _Resolver(ctx))
    timeout = action.timeout.total_seconds()
    if ctx.dry_run:
        return ActionOutcome(True, "run", f"dry run: would run {list(argv)}", argv=argv)
    try:
        result = await run_argv(argv, timeout=timeout, env=action_env(action, ctx), cwd=ctx.cwd)
    except OSError as exc:
        where = f" (in {os.fspath(ctx.cwd)})" if ctx.cwd is not None else ""
        return ActionOutcome(False, "run", f"cannot run {argv[0]}{where}: {exc.strerror or exc}", argv=argv)
    output = combine_output(result.stdout_tail, result.stderr_tail)
    code = result.exit_code
    if result.timed_out:
        message = f"timed out after {timeout:g}s; process group killed"
    elif code == 0:
        message = "exit 0"
    elif code is not None and code < 0:
        message = f"killed by signal {_signal_name(-code)}"
    else:
        message = f"exit {code}"
    return ActionOutcome(
        ok=code == 0 and not result.timed_out,
        kind="run",
        message=message,
        exit_code=code,
        duration_ms=result.duration_ms,
        output=output,
        timed_out=result.timed_out,
        argv=argv,
    )


def _signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return str(number)


async def _signal_process(action: Action, ctx: ActionContext) -> ActionOutcome:
    """Signal every process found (a `match` may name several workers, like pkill); ok if all got it."""
    assert action.signal is not None
    signum = getattr(_signal, "SIG" + action.signal)
    found = await _Resolver(ctx).processes()
    if not found.pids:
        return ActionOutcome(False, "signal", f"SIG{action.signal} not sent: {found.reason or 'no process found'}")
    if ctx.dry_run:
        return ActionOutcome(
            True, "signal", f"dry run: would send SIG{action.signal} to {list(found.pids)}", pids=found.pids
        )
    delivered, errors = [], []
    for pid in found.pids:
        try:
            os.kill(pid, signum)
            delivered.append(pid)
        except ProcessLookupError:
            errors.append(f"pid {pid} exited before the signal")
        except PermissionError:
            errors.append(f"not permitted to signal pid {pid}")
    message = (
        f"SIG{action.signal} delivered to pid {', '.join(map(str, delivered))}"
        if delivered
        else f"SIG{action.signal} not delivered"
    )
    if errors:
        message += "; " + "; ".join(errors)
    return ActionOutcome(bool(delivered) and not errors, "signal", message, output=message, pids=tuple(delivered))


async def _http(action: Action, ctx: ActionContext) -> ActionOutcome:
    request = action.http
    assert request is not None
    timeout = action.timeout.total_seconds()
    if ctx.dry_run:
        return ActionOutcome(True, "http", f"dry run: would {request.method} {request.url}")
    # trust_env=False: a proxy from healerd's environment must not sit between it and a local service.
    # The body is streamed and only its end kept, so a runaway response cannot fill memory.
    what = f"{request.method} {request.url}"
    kept = bytearray()
    import httpx  # here, not at the top: a daemon without http actions never pays its ~6 MB (issue 11)

    try:
        async with asyncio.timeout(timeout):
            async with httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=timeout) as client:
                content = request.body.encode() if request.body is not None else None
                async with client.stream(
                    request.method, request.url, headers=request.headers, content=content
                ) as response:
                    async for chunk in response.aiter_bytes():
                        kept += chunk
                        del kept[:-HTTP_BODY_TAIL]
    except (TimeoutError, httpx.TimeoutException):
        return ActionOutcome(False, "http", f"{what}: no answer within {timeout:g}s", timed_out=True)
    except httpx.HTTPError as exc:
        return ActionOutcome(False, "http", f"{what}: {type(exc).__name__}: {exc}".rstrip(": "))
    status = response.status_code
    body = bytes(kept).decode("utf-8", errors="replace")
    return ActionOutcome(
        ok=200 <= status < 300,
        kind="http",
        message=f"HTTP {status}",
        exit_code=status,
        output=_tail(f"HTTP {status}\n{body}".rstrip()),
    )
