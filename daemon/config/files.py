"""Reading one config directory's files: which files count, whether they are safe to trust, and parsing.

Which files count. `DIR/healerd.toml` (optional), `DIR/policies.d/*` and `DIR/experiments.d/*` with the
suffixes `.toml`, `.yaml` or `.yml`, in byte order of their names (so "later file" is well defined).
Editor and package-manager leftovers are skipped silently, the way systemd and nginx operators expect:
dotfiles, `*~`, `#*#`, `*.swp`/`*.swo`, `*.bak`, `*.old`, `*.orig`, `*.rej`, `*.tmp`, `*.dpkg-*`,
`*.rpmnew`/`*.rpmsave`/`*.rpmorig`, `*.ucf-*`, plus the conventional ways of parking a file:
`*.disabled`, `*.example`, `*.sample`. Any *other* file or subdirectory in policies.d/ or
experiments.d/ is a problem: `app.tml` or `app.json` would otherwise drop a whole policy without a word,
and unknown keys are refused for the same reason. Other files at the top of DIR are left alone (a README
there is normal), except `healerd.yaml`/`healerd.yml`, which look like settings but are not read.

Trust. A config file makes healerd (often root) run commands, so a file is refused — a problem, nothing
read from it — when group or others can write it, or when it is owned by anyone but root or the user
running healerd. DIR, policies.d and experiments.d get the same check, because whoever can write a
directory can swap the files in it. Symlinks are followed (packages and config management use them),
and the *target* is checked, together with the directory the target lives in. The file is checked
through the descriptor it is read from, so it cannot be swapped between the check and the read.
Ancestors of DIR are not checked (nginx and sshd's config loading don't either); /etc is root's.

Relative paths in path-valued fields (`pidfile`, `shadow_config`, check `path`, checkpoint `paths`,
`degradation.state_file`, `password_file`) are resolved against DIR here, so the example directory
runs from any working directory and a daemon's later `chdir` changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from daemon.config.envsubst import expand as expand_env
from daemon.config.locate import LineOf, toml_locator, yaml_duplicate_keys, yaml_locator
from daemon.config.models import (
    DiskCheck,
    EmailChannel,
    ExperimentFile,
    FileCheck,
    PolicyFile,
    SettingsFile,
    SqliteCheck,
)
from daemon.config.problems import Problem, format_key, from_validation_error, printable

FileKind = Literal["settings", "policy", "experiment"]
SETTINGS_FILE = "healerd.toml"
SUBDIRS: dict[str, FileKind] = {"policies.d": "policy", "experiments.d": "experiment"}
SUFFIXES = (".toml", ".yaml", ".yml")
MODELS: dict[FileKind, type[BaseModel]] = {
    "settings": SettingsFile,
    "policy": PolicyFile,
    "experiment": ExperimentFile,
}
#: Generous (10,000 components in one generated file are ~1 MB) but bounded: a bigger file is a mistake,
#: like a log or a database dropped in the wrong place, and must not be read into memory whole.
MAX_BYTES = 16 << 20

_IGNORED = re.compile(
    r"^\.|~$|^#.*#$|\.(swp|swo|swx|bak|old|orig|rej|tmp|dpkg-[a-z]+|rpmnew|rpmsave|rpmorig|ucf-[a-z]+"
    r"|disabled|example|sample)$"
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")


@dataclass(frozen=True)
class Entry:
    """A file that should be loaded: its operator-facing path and its kind."""

    relpath: str
    kind: FileKind
    path: Path


@dataclass(frozen=True, eq=False)
class ParsedFile:
    """One file read and validated on its own. `model` is None when it has problems."""

    relpath: str
    kind: FileKind
    model: BaseModel | None
    sha256: str = ""
    mtime_ns: int = 0
    line_of: LineOf = field(default=lambda parts, is_key=False: None, repr=False)
    problems: tuple[Problem, ...] = ()


def is_ignored(name: str) -> bool:
    return bool(_IGNORED.search(name))


def is_config_path(directory: Path, changed: Path | str) -> bool:
    """Whether a change at `changed` can change what the loader reads: the watcher's filter.

    The config directory may hold other things (the examples keep pidfiles and logs in run/), and a
    service writing its pidfile must not trigger a reload.
    """
    try:
        rel = Path(os.path.abspath(changed)).relative_to(Path(os.path.abspath(directory)))
    except ValueError:
        return False
    parts = rel.parts
    if parts in ((), (SETTINGS_FILE,)) or (len(parts) == 1 and parts[0] in SUBDIRS):
        return True
    return len(parts) == 2 and parts[0] in SUBDIRS and not is_ignored(parts[1])


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "no such user"


def trust_problem(st: os.stat_result, what: str) -> str | None:
    """Why a file or directory with this stat cannot be trusted, or None."""
    euid = os.geteuid()
    if st.st_uid not in (0, euid):
        return (
            f"{what} is owned by uid {st.st_uid} ({_owner_name(st.st_uid)}), neither root nor the user "
            f"running healerd (uid {euid}): refused, because it can make healerd run commands"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"group or others can write {what} (mode {stat.S_IMODE(st.st_mode):04o}): refused, because it "
            f"can make healerd run commands; chmod go-w it"
        )
    return None


def check_directory(path: Path, relpath: str) -> list[Problem]:
    try:
        st = path.stat()
    except OSError as exc:
        return [Problem(relpath, "", f"cannot read the directory: {exc.strerror}")]
    if not stat.S_ISDIR(st.st_mode):
        return [Problem(relpath, "", "is not a directory")]
    reason = trust_problem(st, "this directory")
    return [Problem(relpath, "", reason)] if reason else []


def list_entries(directory: Path) -> tuple[list[Entry] | None, list[Problem]]:
    """The files to load, and problems. None instead of a list means nothing in DIR can be trusted."""
    try:
        return _list_entries(directory)
    except OSError as exc:  # e.g. a directory healerd's user may stat but not read
        return None, [Problem(str(directory), "", f"cannot list the config directory: {exc}")]


def _list_entries(directory: Path) -> tuple[list[Entry] | None, list[Problem]]:
    problems = check_directory(directory, str(directory))
    if problems:
        return None, problems
    entries: list[Entry] = []
    settings = directory / SETTINGS_FILE
    if settings.exists() or settings.is_symlink():
        entries.append(Entry(SETTINGS_FILE, "settings", settings))
    for stray in ("healerd.yaml", "healerd.yml"):
        if (directory / stray).exists():
            problems.append(Problem(stray, "", f"settings are read from {SETTINGS_FILE} only; this file is not loaded"))
    found_any = bool(entries)
    for subdir, kind in SUBDIRS.items():
        sub = directory / subdir
        if not (sub.exists() or sub.is_symlink()):
            continue
        found_any = True
        sub_problems = check_directory(sub, subdir)
        if sub_problems:
            return None, problems + sub_problems
        for name in sorted(os.listdir(sub), key=os.fsencode):
            if is_ignored(name):
                continue
            relpath = f"{subdir}/{name}"
            if printable(name) != name:  # undecodable bytes: shown escaped by Problem, never loaded
                problems.append(
                    Problem(relpath, "", "the file name is not valid UTF-8, so it is not loaded: rename it")
                )
                continue
            if (sub / name).is_dir():
                problems.append(Problem(relpath, "", f"a directory inside {subdir}/ is not read: move it out"))
                continue
            if not name.endswith(SUFFIXES):
                problems.append(
                    Problem(
                        relpath,
                        "",
                        "not a .toml, .yaml or .yml file, so it would not be loaded: rename it or move it out "
                        f"of {subdir}/ (editor and package backups like *~, *.bak, *.dpkg-old are ignored)",
                    )
                )
                continue
            entries.append(Entry(relpath, kind, sub / name))
    if not found_any:
        return None, [
            Problem(
                str(directory),
                "",
                f"not a healerd config directory (no {SETTINGS_FILE}, policies.d/ or experiments.d/)",
            )
        ]
    return entries, problems


def read_trusted_file(path: str | os.PathLike[str]) -> bytes:
    """A secret (e.g. [http] basic_auth's password_file) read under the same trust rules as config
    files; raises ConfigError naming the reason."""
    from daemon.errors import ConfigError

    result = _read_trusted(Entry(os.fspath(path), "settings", Path(path)))
    if isinstance(result, Problem):
        raise ConfigError(f"{path}: {result.message}")
    return result[0]


def _read_trusted(entry: Entry) -> tuple[bytes, os.stat_result] | Problem:
    """Open, check through the descriptor, read. Follows symlinks and then checks the target's dir."""
    path = entry.path
    what = "this file"
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            return Problem(entry.relpath, "", f"broken symlink: {exc.strerror if isinstance(exc, OSError) else exc}")
        # A symlink may lead anywhere (/etc/shadow): its target must pass the same trust rules as a file
        # in DIR, and every refusal says which target it was.
        what = f"the symlink's target {target}"
        reason = trust_problem(target.parent.stat(), f"the directory of the symlink's target {target.parent}")
        if reason:
            return Problem(entry.relpath, "", reason)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return Problem(entry.relpath, "", f"cannot open {what}: {exc.strerror}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Problem(
                entry.relpath, "", "not a regular file" if what == "this file" else f"{what} is not a regular file"
            )
        reason = trust_problem(st, what)
        if reason:
            return Problem(entry.relpath, "", reason)
        if st.st_size > MAX_BYTES:
            return Problem(entry.relpath, "", f"{st.st_size} bytes is too big for a config file (limit {MAX_BYTES})")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_BYTES:
                return Problem(entry.relpath, "", f"too big for a config file (limit {MAX_BYTES} bytes)")
        return b"".join(chunks), st
    except OSError as exc:
        return Problem(entry.relpath, "", f"cannot read: {exc.strerror}")
    finally:
        os.close(fd)


def _parse(entry: Entry, text: str) -> tuple[Any, LineOf, list[Problem]]:
    """Syntax only: the data, a line locator, and syntax problems with their line."""
    if entry.relpath.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = _TOML_POSITION.search(message)
            line = None
            if match:
                line = int(match.group(1)) if match.group(1) else max(1, len(text.splitlines()))
                message = message[: match.start()]
            return None, toml_locator(""), [Problem(entry.relpath, "", f"invalid TOML: {message}", line)]
        return data, toml_locator(text), []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = str(exc.problem) + (f" ({exc.context})" if exc.context else "")
        return (
            None,
            yaml_locator(None),
            [Problem(entry.relpath, "", f"invalid YAML: {message}", mark.line + 1 if mark else None)],
        )
    except yaml.YAMLError as exc:
        return None, yaml_locator(None), [Problem(entry.relpath, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    line_of = yaml_locator(root)
    problems = [
        Problem(
            entry.relpath,
            format_key(key),
            f"written twice (first on line {first}); YAML would silently keep the last",
            again,
        )
        for key, first, again in yaml_duplicate_keys(root)
    ]
    if not isinstance(data, dict):
        problems.append(
            Problem(
                entry.relpath,
                "",
                f"not a mapping of keys (a YAML config file must be one, this is a {type(data).__name__})",
                line_of((), False),
            )
        )
    return data, line_of, problems


def _absolute(directory: Path, value: str | None) -> str | None:
    if value is None or os.path.isabs(value):
        return value
    return os.path.normpath(directory / value)


def resolve_paths(model: BaseModel, directory: Path) -> BaseModel:
    """Make the documented path-valued fields absolute against the config directory."""
    if isinstance(model, PolicyFile):
        components = []
        for comp in model.component:
            check = comp.check
            if isinstance(check, (FileCheck, DiskCheck, SqliteCheck)):
                check = check.model_copy(update={"path": _absolute(directory, check.path)})
            components.append(
                comp.model_copy(
                    update={
                        "pidfile": _absolute(directory, comp.pidfile),
                        "check": check,
                        "shadow_config": _absolute(directory, comp.shadow_config),
                    }
                )
            )
        checkpoints = [
            cp.model_copy(update={"paths": [_absolute(directory, p) for p in cp.paths]}) for cp in model.checkpoint
        ]
        return model.model_copy(update={"component": components, "checkpoint": checkpoints})
    if isinstance(model, SettingsFile):
        degradation = model.degradation.model_copy(
            update={"state_file": _absolute(directory, model.degradation.state_file)}
        )
        notify = {
            name: ch.model_copy(update={"password_file": _absolute(directory, ch.password_file)})
            if isinstance(ch, EmailChannel)
            else ch
            for name, ch in model.notify.items()
        }
        http = model.http
        if http.basic_auth is not None:
            auth = http.basic_auth.model_copy(
                update={"password_file": _absolute(directory, http.basic_auth.password_file)}
            )
            http = http.model_copy(update={"basic_auth": auth})
        http = http.model_copy(
            update={"tls_cert": _absolute(directory, http.tls_cert), "tls_key": _absolute(directory, http.tls_key)}
        )
        metrics = model.metrics.model_copy(update={"textfile": _absolute(directory, model.metrics.textfile)})
        fleet = model.fleet and model.fleet.model_copy(
            update={"password_file": _absolute(directory, model.fleet.password_file)}
        )
        return model.model_copy(
            update={"degradation": degradation, "notify": notify, "http": http, "metrics": metrics, "fleet": fleet}
        )
    return model


def read_file(
    directory: Path,
    entry: Entry,
    previous: ParsedFile | None = None,
    rejected: ParsedFile | None = None,
    env: Mapping[str, str] | None = None,
) -> ParsedFile:
    """Read, parse and validate one file; never raises for bad input.

    With `previous` (the version in force) and identical bytes, its parse is reused: reload then costs
    a read and a hash per file, and the trust check still runs every time.
    """
    try:
        return _read_file(directory, entry, previous, rejected, os.environ if env is None else env)
    except Exception as exc:  # e.g. RecursionError on absurdly nested input: a problem, never a crash
        return ParsedFile(
            entry.relpath, entry.kind, None, problems=(Problem(entry.relpath, "", f"could not be read: {exc!r}"),)
        )


def _read_file(
    directory: Path, entry: Entry, previous: ParsedFile | None, rejected: ParsedFile | None, env: Mapping[str, str]
) -> ParsedFile:
    read = _read_trusted(entry)
    if isinstance(read, Problem):
        return ParsedFile(entry.relpath, entry.kind, None, problems=(read,))
    raw, st = read
    digest = hashlib.sha256(raw).hexdigest()
    if previous is not None and previous.model is not None and previous.sha256 == digest:
        return previous
    if rejected is not None and rejected.sha256 == digest:  # the same bad bytes: the same problems, unparsed
        return rejected
    bad = ParsedFile(entry.relpath, entry.kind, None, digest, st.st_mtime_ns)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _with(bad, [Problem(entry.relpath, "", "not UTF-8 text", line)])
    data, line_of, problems = _parse(entry, text)
    bad = ParsedFile(entry.relpath, entry.kind, None, digest, st.st_mtime_ns, line_of)
    if data is None or not isinstance(data, dict):
        return _with(bad, problems)
    stranger = _not_config_keys(entry, data, line_of)
    if stranger is not None:
        return _with(bad, [stranger])
    data, unset = expand_env(data, env)
    problems += [Problem(entry.relpath, format_key(key), message, line_of(key, False)) for key, message in unset]
    try:
        model = MODELS[entry.kind].model_validate(data)
    except ValidationError as exc:
        return _with(bad, problems + from_validation_error(exc, entry.relpath, data, line_of, MODELS[entry.kind]))
    model = resolve_paths(model, directory)
    problems += _secret_problems(model, entry.relpath, line_of)
    if problems:
        return _with(bad, problems)
    model.model_dump_json()  # stored as JSON later: a value that cannot be is this file's problem, now
    return ParsedFile(entry.relpath, entry.kind, model, digest, st.st_mtime_ns, line_of)


def _secret_problems(model: BaseModel, relpath: str, line_of: LineOf) -> list[Problem]:
    """[http] basic_auth's password file must pass the same trust checks as a config file."""
    auth = model.http.basic_auth if isinstance(model, SettingsFile) and model.http.enabled else None
    if auth is None:
        return []
    read = _read_trusted(Entry(auth.password_file, "settings", Path(auth.password_file)))
    if not isinstance(read, Problem):
        return []
    key = ("http", "basic_auth", "password_file")
    return [Problem(relpath, format_key(key), f"{auth.password_file}: {read.message}", line_of(key, False))]


def _not_config_keys(entry: Entry, data: dict[str, Any], line_of: LineOf) -> Problem | None:
    """A mapping none of whose top-level keys healerd reads is some other file (a symlink to a secret,
    a log): its keys may be its content (`root:$6$hash:…:` is a YAML key), so none is echoed."""
    model = MODELS[entry.kind]
    known = {f.alias or name for name, f in model.model_fields.items()}
    if not data or any(key in known for key in data):
        return None
    first = next(iter(data))
    return Problem(
        entry.relpath,
        "",
        f"not a mapping of config keys: none of its {len(data)} top-level keys is one "
        f"healerd reads ({', '.join(sorted(known))}); its content is not shown",
        line_of((first,), True),
    )


def _with(parsed: ParsedFile, problems: list[Problem]) -> ParsedFile:
    return ParsedFile(
        parsed.relpath, parsed.kind, None, parsed.sha256, parsed.mtime_ns, parsed.line_of, tuple(problems)
    )
