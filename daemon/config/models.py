"""The configuration as plain data: what operators write in healerd.toml, policies.d/ and experiments.d/.

No I/O here: these models only validate shapes and values. Cross-file rules (names unique across the
directory, references that resolve, dependency cycles, file permissions) belong to `config/loader.py`.
Every model forbids unknown keys, because a typo like `timout` must not pass silently and leave a
check without the timeout the operator thought they set.

It is longer than the ~400 lines modules aim for on purpose: it is the whole config reference in one
place, read top to bottom by whoever adds a key, and splitting it would scatter one schema.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from daemon.config import limits
from daemon.config.durations import Duration, OptionalDuration, Size, parse_duration, parse_size
from daemon.types import ERROR_CLASSES, Level

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=128)]
Argv = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*")
    @classmethod
    def _in_documented_range(cls, value: Any, info: ValidationInfo) -> Any:
        """Every value within its documented range (config/limits.py): no NUL, no inf, no 10,000 years."""
        return limits.check(info.field_name or "", value)


def signal_name(value: str) -> str:
    """ "HUP", "SIGHUP" or "hup" → "HUP"; an unknown name is a config error, not a run-time surprise."""
    import signal as _signal

    name = value.upper().removeprefix("SIG")
    if not hasattr(_signal, "SIG" + name):
        raise ValueError(f"unknown signal {value!r} (e.g. HUP, TERM, KILL, USR1)")
    return name


def _seconds(value: str) -> timedelta:
    return parse_duration(value)


# --- actions ----------------------------------------------------------------------------------------


class HttpRequest(Model):
    url: Annotated[str, Field(pattern=r"^https?://")]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "POST"
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class Action(Model):
    """Exactly one of `run` (argv, no shell), `signal` (to the component's process) or `http`.

    `{component}`, `{candidate}`, `{pid}` and `{incident}` are filled into argv elements only, never
    into a shell, so a value cannot inject a command.
    """

    run: Argv | None = None
    signal: str | None = None
    http: HttpRequest | None = None
    timeout: Duration = _seconds("30s")
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [k for k in ("run", "signal", "http") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an action needs exactly one of run, signal or http" + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str | None) -> str | None:
        return None if value is None else signal_name(value)


# --- checks -----------------------------------------------------------------------------------------


#: A check's timeout when the operator writes none: this, or `every` when that is shorter.
DEFAULT_CHECK_TIMEOUT = _seconds("5s")


class CheckBase(Model):
    every: Duration = _seconds("10s")
    #: default min(5s, every); see `_timeout_fits`.
    timeout: Duration = DEFAULT_CHECK_TIMEOUT
    degraded_over: Duration | None = None

    @model_validator(mode="after")
    def _timeout_fits(self) -> CheckBase:
        """The "no longer than every" rule is about a timeout the operator wrote; an unwritten one
        follows `every` down, so `every = "1s"` alone is valid (the default must never break a rule)."""
        if "timeout" not in self.model_fields_set:
            # frozen model: set the derived default the way pydantic itself fills fields
            object.__setattr__(self, "timeout", min(DEFAULT_CHECK_TIMEOUT, self.every))
        elif self.timeout > self.every:
            raise ValueError("timeout must not be longer than every (checks would pile up)")
        return self


class HttpCheck(CheckBase):
    kind: Literal["http"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1)] = [200]
    body_contains: str | None = None
    json_path: str | None = None
    json_equals: Any = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _json_pair(self) -> HttpCheck:
        if (self.json_path is None) != (self.json_equals is None):
            raise ValueError("json_path and json_equals go together")
        return self


class TcpCheck(CheckBase):
    kind: Literal["tcp"]
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)]


class ExecCheck(CheckBase):
    """Nagios plugin exit codes: 0 OK, 1 WARNING (degraded), 2 CRITICAL (unhealthy), 3 UNKNOWN."""

    kind: Literal["exec"]
    run: Argv
    env: dict[str, str] = Field(default_factory=dict)


class ProcessCheck(CheckBase):
    """Finds the process by the component's `pidfile`, or by `match`, a regex on the command line."""

    kind: Literal["process"]
    match: str | None = None

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class SystemdCheck(CheckBase):
    kind: Literal["systemd"]
    unit: Annotated[str, Field(min_length=1)]


class FileCheck(CheckBase):
    kind: Literal["file"]
    path: Annotated[str, Field(min_length=1)]
    max_age: Duration | None = None
    min_size: Size | None = None


class DiskCheck(CheckBase):
    kind: Literal["disk"]
    path: str = "/"
    min_free: str = "10%"

    @field_validator("min_free")
    @classmethod
    def _percent_or_size(cls, value: str) -> str:
        if isinstance(value, str) and value.strip().endswith("%"):
            number = float(value.strip()[:-1])
            if not 0 < number < 100:
                raise ValueError("a percentage must be between 0 and 100")
            return value.strip()
        parse_size(value)
        return value

    @property
    def min_free_percent(self) -> float | None:
        return float(self.min_free[:-1]) if self.min_free.endswith("%") else None

    @property
    def min_free_bytes(self) -> int | None:
        return None if self.min_free.endswith("%") else parse_size(self.min_free)


class SqliteCheck(CheckBase):
    kind: Literal["sqlite"]
    path: Annotated[str, Field(min_length=1)]


Check = Annotated[
    HttpCheck | TcpCheck | ExecCheck | ProcessCheck | SystemdCheck | FileCheck | DiskCheck | SqliteCheck,
    Field(discriminator="kind"),
]


# --- breaker ----------------------------------------------------------------------------------------


class Breaker(Model):
    consecutive_failures: Annotated[int, Field(ge=1)] = 3
    failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    window: Annotated[int, Field(ge=1, le=10_000)] = 20
    min_checks: Annotated[int, Field(ge=1)] = 10
    open_for: Duration = _seconds("30s")
    max_open_for: Duration = _seconds("10m")
    half_open_successes: Annotated[int, Field(ge=1)] = 2
    #: kept so existing files load; since issue 10 the doubling of open_for counts the re-opens of one
    #: incident only (a new incident starts again from open_for), so this no longer changes anything.
    reset_after: Duration = _seconds("10m")

    @model_validator(mode="after")
    def _consistent(self) -> Breaker:
        if self.min_checks > self.window:
            raise ValueError("min_checks cannot exceed window (the rate rule would never apply)")
        if self.max_open_for < self.open_for:
            raise ValueError("max_open_for must be at least open_for")
        return self


# --- recovery ladder --------------------------------------------------------------------------------


class Backoff(Model):
    initial: Duration = _seconds("1s")
    max: Duration = _seconds("30s")
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0
    jitter: Literal["none", "full", "equal", "decorrelated"] = "full"


class When(Model):
    errors: Annotated[list[str], Field(min_length=1)]

    @field_validator("errors")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ERROR_CLASSES)
        if unknown:
            raise ValueError(f"unknown error class(es) {unknown}; known: {sorted(ERROR_CLASSES)}")
        return value


class StepBase(Model):
    when: When | None = None
    attempts: Annotated[int, Field(ge=1)] = 1
    within: Duration = _seconds("1h")
    #: after the action, the component's own check must pass within this long, or the step failed.
    verify_within: Duration = _seconds("30s")


class RetryStep(StepBase):
    strategy: Literal["retry"]
    action: Action
    attempts: Annotated[int, Field(ge=1)] = 3
    within: Duration = _seconds("10m")
    backoff: Backoff = Backoff()


class RestoreStep(StepBase):
    strategy: Literal["restore"]
    checkpoint: Name
    then: Action | None = None


class FallbackStep(StepBase):
    strategy: Literal["fallback"]
    candidates: Annotated[list[Name], Field(min_length=1)]
    select: Literal["sequential", "weighted", "random", "fastest"] = "sequential"
    activate: Action
    deactivate: Action | None = None
    failback_after: Duration = _seconds("2m")


class EscalateStep(Model):
    strategy: Literal["escalate"]
    notify: Annotated[list[Name], Field(min_length=1)]
    repeat_every: Duration | None = _seconds("1h")
    when: When | None = None


RecoveryStep = Annotated[RetryStep | RestoreStep | FallbackStep | EscalateStep, Field(discriminator="strategy")]


class Flapping(Model):
    """When a component counts as flapping, and what a flapping incident may do (issue 10).

    A *flap* is an incident that ended by itself: the component came back without a verified recovery
    by healerd (an incident healerd heals each time is a crash loop, which the restart backoff spaces
    instead). After `flaps` flaps within `within`, the next incident opens as a *flapping* one: it
    stays open through every further flap, sends one escalation, takes at most `actions` recovery
    actions (then only the escalate steps), and ends — with one "flapping ended" message — once the
    component has been healthy for `quiet`.
    """

    flaps: Annotated[int, Field(ge=1)] = 2
    within: Duration = _seconds("10m")
    quiet: Duration = _seconds("5m")
    actions: Annotated[int, Field(ge=0)] = 1


# --- components and checkpoints -----------------------------------------------------------------------


class Component(Model):
    name: Name
    description: str = ""
    weight: Annotated[float, Field(gt=0)] = 1.0
    depends_on: list[Name] = Field(default_factory=list)
    pidfile: str | None = None
    check: Check
    breaker: Breaker = Breaker()
    recovery: list[RecoveryStep] = Field(default_factory=list)
    flapping: Flapping = Flapping()
    #: issue 15: a config directory whose policy for this component decides alongside (shadow mode):
    #: its decisions are recorded in `shadow_decisions`, never executed. Relative to the config directory.
    shadow_config: str | None = None

    @model_validator(mode="after")
    def _process_needs_a_way_to_find_it(self) -> Component:
        if isinstance(self.check, ProcessCheck) and self.check.match is None and self.pidfile is None:
            raise ValueError("a process check needs the component's pidfile or check.match")
        if self.name in self.depends_on:
            raise ValueError("a component cannot depend on itself")
        return self


class Checkpoint(Model):
    name: Name
    #: the owning component; if omitted, the component whose restore step names this checkpoint.
    component: Name | None = None
    paths: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    every: Duration = _seconds("1h")
    keep: Annotated[int, Field(ge=1, le=1000)] = 10


class PolicyFile(Model):
    """One file of policies.d/: components and checkpoints."""

    component: list[Component] = Field(default_factory=list)
    checkpoint: list[Checkpoint] = Field(default_factory=list)


# --- healerd.toml -----------------------------------------------------------------------------------


class ChannelBase(Model):
    #: deliveries are retried this many times (with backoff) before they are recorded as failed.
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    timeout: Duration = _seconds("10s")
    #: escalations raised within this long of the first one go out as one message ("0s": one each).
    group_wait: OptionalDuration = _seconds("3s")


class WebhookChannel(ChannelBase):
    kind: Literal["webhook"]
    url: Annotated[str, Field(pattern=r"^https?://")]
    headers: dict[str, str] = Field(default_factory=dict)


class RunChannel(ChannelBase):
    kind: Literal["run"]
    run: Argv


class EmailChannel(ChannelBase):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal["email"]
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str = Field(alias="from")
    to: Annotated[list[str], Field(min_length=1)]
    starttls: bool = False
    username: str | None = None
    password_file: str | None = None
    subject_prefix: str = "[healerd]"


class LogChannel(ChannelBase):
    kind: Literal["log"]
    level: Literal["info", "warning", "error", "critical"] = "warning"


class AppriseChannel(ChannelBase):
    """Any of Apprise's 90+ services by URL (`slack://…`, `ntfys://…`, `json://host/path`, …)."""

    kind: Literal["apprise"]
    urls: Annotated[list[Annotated[str, Field(min_length=3)]], Field(min_length=1)]


class AlertmanagerChannel(ChannelBase):
    """POSTs alerts to Alertmanager's `/api/v2/alerts`, so its grouping, inhibition and silences apply."""

    kind: Literal["alertmanager"]
    #: Alertmanager's base URL (`http://127.0.0.1:9093`); `/api/v2/alerts` is appended.
    url: Annotated[str, Field(pattern=r"^https?://")]
    severity: str = "critical"
    #: a firing alert's endsAt is now + lease (reminders renew it); see engine/notify/alertmanager.py.
    lease: Duration = _seconds("24h")
    labels: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


Channel = Annotated[
    WebhookChannel | RunChannel | EmailChannel | LogChannel | AppriseChannel | AlertmanagerChannel,
    Field(discriminator="kind"),
]


class Retention(Model):
    raw_results: Duration = _seconds("7d")
    rollups: Duration = _seconds("400d")
    history: Duration = _seconds("400d")
    snapshots: Duration = _seconds("30d")
    prune_every: Duration = _seconds("10m")
    prune_batch: Annotated[int, Field(ge=100, le=100_000)] = 5000


class Flag(Model):
    name: Name
    description: str = ""
    #: the level at which this flag turns off (it stays off at every worse level).
    off_at: Level
    depends_on: list[Name] = Field(default_factory=list)
    components: list[Name] = Field(default_factory=list)


class Degradation(Model):
    """Score thresholds: below `reduced_below` the level is reduced, and so on down to emergency."""

    reduced_below: Annotated[float, Field(gt=0, le=100)] = 90.0
    minimal_below: Annotated[float, Field(gt=0, le=100)] = 70.0
    emergency_below: Annotated[float, Field(gt=0, le=100)] = 40.0
    #: going back up needs the score to clear the threshold by this many points ...
    margin: Annotated[float, Field(ge=0, le=50)] = 5.0
    #: ... for this long (hysteresis, so the level does not flap).
    hold: Duration = _seconds("60s")
    degraded_weight: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: a component with no result for this many of its intervals counts as unknown.
    stale_after: Annotated[int, Field(ge=1)] = 3
    snapshot_every: Duration = _seconds("1m")
    state_file: str | None = None
    on_change: Action | None = None
    flag: list[Flag] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Degradation:
        if not self.reduced_below > self.minimal_below > self.emergency_below:
            raise ValueError("thresholds must be ordered reduced_below > minimal_below > emergency_below")
        return self


class DaemonSettings(Model):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_concurrent_recoveries: Annotated[int, Field(ge=1)] = 4
    #: a floor: after a verified recovery the component gets no new action for this long ("0s" = off).
    #: The wait between incidents is the restart backoff below, not this.
    cooldown: OptionalDuration = _seconds("0s")
    #: restart backoff across incidents: the first action of a repeated incident waits along the step's
    #: own backoff curve (first repeat at once), capped here ...
    restart_backoff_max: Duration = _seconds("5m")
    #: ... and the count of repeats starts again once the component has been healthy this long.
    restart_backoff_reset: Duration = _seconds("10m")
    #: healthy this long ⇒ the ladder's budgets start again.
    budget_reset_after: Duration = _seconds("30m")
    #: cadence for components that are half-open or under recovery.
    fast_every: Duration = _seconds("1s")
    shutdown_grace: Duration = _seconds("10s")
    reload_debounce: Duration = _seconds("500ms")
    watch_config: bool = True
    max_queue: Annotated[int, Field(ge=1000)] = 100_000
    max_concurrent_experiments: Annotated[int, Field(ge=1)] = 1
    #: base of links to an incident's events in notifications (e.g. a dashboard); optional.
    incident_url: str | None = None


class BasicAuth(Model):
    username: Annotated[str, Field(min_length=1)]
    #: the password is read from this file (same trust rules as config files), never from the config.
    password_file: str


class HttpSettings(Model):
    """[http]: the read-only HTTP service (/metrics, /api/v1, /healthz, the status page). Off by default."""

    enabled: bool = False
    address: str = "127.0.0.1"
    #: 9797 by default; 0 picks a free port (the log says which).
    port: Annotated[int, Field(ge=0, le=65535)] = 9797
    #: a non-loopback address is refused unless this is true, and then needs basic_auth or TLS.
    allow_remote: bool = False
    basic_auth: BasicAuth | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    #: the whole of one request, reads included; a slower request gets 503.
    request_timeout: Duration = _seconds("5s")
    #: how often the status page reloads itself.
    refresh: Duration = _seconds("15s")
    #: the base of links in notifications (e.g. behind a proxy); default http(s)://address:port.
    external_url: Annotated[str, Field(pattern=r"^https?://")] | None = None

    @model_validator(mode="after")
    def _safe_bind(self) -> HttpSettings:
        import ipaddress

        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if not self.enabled:
            return self
        try:
            loopback = self.address == "localhost" or ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            raise ValueError(f"address must be an IP address (or localhost), not {self.address!r}") from None
        if not loopback:
            if not self.allow_remote:
                raise ValueError(
                    f"address {self.address} is not loopback: set allow_remote = true "
                    "(and basic_auth or tls_cert/tls_key) to serve other hosts"
                )
            if self.basic_auth is None and self.tls_cert is None:
                raise ValueError(f"allow_remote on {self.address} needs basic_auth or tls_cert/tls_key")
        return self


class MetricsSettings(Model):
    #: also write /metrics' text to this file atomically, for node_exporter's textfile collector.
    textfile: str | None = None
    textfile_every: Duration = _seconds("15s")


class MaintenanceWindow(Model):
    """A planned window (`[[maintenance]]` in healerd.toml): checks keep running and are recorded; no
    actions, no escalations; availability leaves the time out.

    When it starts: `cron` (five fields, the start times) or `start` ("HH:MM") on `weekdays` (every
    day when omitted), in `timezone`; it lasts `duration`. `components` empty means every component.
    """

    name: Name
    components: list[Name] = Field(default_factory=list)
    cron: str | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None
    duration: Duration
    timezone: str = "UTC"
    reason: str = ""

    @model_validator(mode="after")
    def _one_schedule(self) -> MaintenanceWindow:
        if (self.cron is None) == (self.start is None):
            raise ValueError("a maintenance window needs exactly one of cron or start (with optional weekdays)")
        if self.cron is not None and self.weekdays is not None:
            raise ValueError("weekdays go with start, not with cron (cron has its own day-of-week field)")
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(self.timezone)
        except Exception:
            raise ValueError(f"unknown timezone {self.timezone!r} (e.g. UTC, Europe/Paris)") from None
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(self.cron, timezone=self.timezone)
            except ValueError as exc:
                raise ValueError(f"cron {self.cron!r}: {exc}") from None
        return self


class Fleet(Model):
    """`[fleet]`: ship this host's history to a central PostgreSQL (issue 14). Off unless `url` is set.

    The password is never in the URL: it comes from `password_file`, read under the same trust rules as
    config files (see service/fleet.py). Local SQLite stays the source of truth; the centre is a mirror.
    """

    url: Annotated[str, Field(pattern=r"^postgresql(\+psycopg)?://")]
    password_file: str | None = None
    #: this host's name in the centre; default: the machine's host name.
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    every: Duration = _seconds("5s")
    #: rows per INSERT … ON CONFLICT batch (and the most rows the shipper holds in memory per table).
    batch: Annotated[int, Field(ge=10, le=50_000)] = 2000
    connect_timeout: Duration = _seconds("5s")
    #: while the centre is down, tries back off exponentially up to this.
    max_backoff: Duration = _seconds("1m")
    #: retention may prune rows not yet shipped only when the database's filesystem has less free.
    min_free: Size = 256 << 20
    #: the fleet-wide guard: more than this share of hosts opening one component's breaker within
    #: `window` (and at least `min_hosts` of them) is a fleet incident ...
    max_share: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_hosts: Annotated[int, Field(ge=2)] = 3
    window: Duration = _seconds("5m")
    #: ... and local remediation of that component is held this long (renewed while it lasts).
    hold_for: Duration = _seconds("10m")
    guard: bool = True


class SettingsFile(Model):
    """healerd.toml."""

    daemon: DaemonSettings = DaemonSettings()
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    notify: dict[Name, Channel] = Field(default_factory=dict)
    retention: Retention = Retention()
    degradation: Degradation = Degradation()
    http: HttpSettings = HttpSettings()
    metrics: MetricsSettings = MetricsSettings()
    fleet: Fleet | None = None


# --- experiments.d/ ---------------------------------------------------------------------------------


class KillFault(Model):
    kind: Literal["kill"]
    signal: str = "KILL"

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        return signal_name(value)


class StopFault(Model):
    kind: Literal["stop"]
    run: Argv
    timeout: Duration = _seconds("30s")


class LatencyFault(Model):
    kind: Literal["latency"]
    delay: Duration


class ErrorFault(Model):
    kind: Literal["error"]
    rate: Annotated[float, Field(gt=0, le=1)]


class UnavailableFault(Model):
    kind: Literal["unavailable"]


class RunFault(Model):
    kind: Literal["run"]
    run: Argv
    revert: Argv
    timeout: Duration = _seconds("30s")


Fault = Annotated[
    KillFault | StopFault | LatencyFault | ErrorFault | UnavailableFault | RunFault,
    Field(discriminator="kind"),
]


class SteadyState(Model):
    min_score: Annotated[float, Field(ge=0, le=100)] = 90.0


class Expectation(Model):
    detected_within: Duration | None = None
    recovered_within: Duration | None = None
    max_level: Level | None = None


class Experiment(Model):
    name: Name
    description: str = ""
    target: Name
    fault: Fault
    duration: Duration
    steady_state: SteadyState = SteadyState()
    abort_below: Annotated[float, Field(ge=0, le=100)] | None = None
    expect: Expectation = Expectation()
    rollback: Action | None = None
    schedule: str | None = None
    actions: Literal["live", "dry-run"] = "live"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"not a cron expression: {exc}") from None
        return value


class ExperimentFile(Model):
    experiment: Experiment


# --- the assembled configuration ------------------------------------------------------------------------


class HealerdConfig(Model):
    """Everything loaded from one config directory, with cross-file references already checked."""

    settings: SettingsFile = SettingsFile()
    components: dict[str, Component] = Field(default_factory=dict)
    checkpoints: dict[str, Checkpoint] = Field(default_factory=dict)
    experiments: dict[str, Experiment] = Field(default_factory=dict)
    #: the config directory, absolute. Relative paths in path fields are already resolved against it;
    #: argv elements cannot be (nobody knows which are paths), so commands should run with it as cwd.
    directory: str | None = None
    #: name → the file it came from: components, checkpoints and experiments by their bare name (they
    #: share one namespace), notify channels as "notify.NAME" (their own namespace).
    sources: dict[str, str] = Field(default_factory=dict)

    def dependents(self, name: str) -> list[str]:
        """Every component that depends on `name`, directly or through others (issue 10: who a
        dependency's recovery wakes, whom a root cause's escalation names)."""
        reverse: dict[str, list[str]] = {}
        for other, component in self.components.items():  # one pass: O(components + edges) per call
            for dependency in component.depends_on:
                reverse.setdefault(dependency, []).append(other)
        found: dict[str, None] = {}
        frontier = [name]
        while frontier:
            for other in reverse.get(frontier.pop(), ()):
                if other not in found and other != name:
                    found[other] = None
                    frontier.append(other)
        return list(found)

    def checkpoint_owner(self, checkpoint: str) -> str | None:
        cp = self.checkpoints.get(checkpoint)
        if cp is None:
            return None
        if cp.component:
            return cp.component
        for comp in self.components.values():
            for step in comp.recovery:
                if isinstance(step, RestoreStep) and step.checkpoint == checkpoint:
                    return comp.name
        return None
