"""The tables healerd remembers everything in, as SQLAlchemy Core metadata.

This module is the reference the migrations are checked against (a test asserts Alembic's autogenerate
finds no difference between it and a migrated database), so a column added here needs a migration in
the same commit. Conventions, chosen so the file stays readable with the plain `sqlite3` shell:

* times are REAL unix seconds UTC (`ts`, `*_at`, `since`, `*_until`); views render them as ISO text;
* JSON is stored as TEXT (SQLite's JSON functions read it);
* enumerations are TEXT with a named CHECK, so a bad value fails at insert instead of in a report;
* counters are BigInteger: one check per second for a year is ~31.5 M, and a fleet of components adds up
  in row ids, so 32 bits is not enough anywhere ids or sums grow without bound;
* every foreign key has an index (SQLite does not create one, and every delete or join would scan).

Past the ~400 lines modules aim for on purpose: it is the list of tables, one per concept, and the
migrations test compares it as a whole; column helpers already live apart in columns.py.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.types import REAL

from daemon.store.columns import (
    BREAKER_STATES,
    CHAOS_VERDICTS,
    CHECKPOINT_STATUSES,
    COMMAND_STATUSES,
    DECISION_KINDS,
    ESCALATION_KINDS,
    ESCALATION_STATUSES,
    INCIDENT_STATUSES,
    LEVELS,
    NAMING_CONVENTION,
    RECOVERY_STATUSES,
    STATUSES,
    STRATEGIES,
    Json,
    RowId,
    Time,
    counter,
    fk,
    flag,
    json_valid,
    one_of,
)

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# --- what is watched ---------------------------------------------------------------------------------

components = Table(
    "components",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("description", Text),
    Column("check_kind", Text, nullable=False),
    Column("weight", REAL, nullable=False, server_default=text("1.0")),
    Column("every_s", REAL, nullable=False),
    Column("depends_on", Json, nullable=False, server_default=text("'[]'")),
    Column("spec", Json, nullable=False, server_default=text("'{}'")),
    Column("source_file", Text),
    Column("loaded_at", Time, nullable=False),
    # Soft delete: history rows keep pointing at a component that was removed from the config.
    Column("removed_at", Time),
    CheckConstraint("weight >= 0", name="weight_not_negative"),
    CheckConstraint("every_s > 0", name="every_positive"),
    json_valid("depends_on"),
    json_valid("spec"),
)

check_results = Table(
    "check_results",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("component_id", "components.id", index=False),
    Column("ts", Time, nullable=False),
    Column("status", Text, nullable=False),
    Column("latency_ms", REAL),
    Column("error_class", Text),
    Column("message", Text),
    # A Nagios plugin's performance data (after its `|`), kept apart from the message it would clutter.
    Column("perfdata", Text),
    flag("injected"),
    # Taken during a maintenance window or silence (issue 10): recorded, left out of availability.
    flag("maintenance"),
    one_of("status", STATUSES),
    # (component_id, ts) serves "latest result per component" and is the FK's index; ts alone serves
    # time windows and retention deletes (measured: cheaper to maintain than the composite).
    Index(None, "component_id", "ts"),
    Index(None, "ts"),
    # Failures only (~1-2 % of rows): recent_health_failures walks the last hour's failures instead of
    # looking up every result of the hour to drop the healthy ones (issue 11: ~60k lookups for 1.3k rows).
    Index("ix_check_results_failures_ts", "ts", sqlite_where=text("status IN ('unhealthy', 'unknown')")),
)

result_rollups_hourly = Table(
    "result_rollups_hourly",
    metadata,
    # Epoch seconds of the hour's start: the writer's UPSERT key is (hour, component_id), in that order
    # (measured ~15x cheaper to upsert one hour of many components than with the key reversed).
    Column("hour", BigInteger, primary_key=True),
    Column("component_id", RowId, ForeignKey("components.id"), primary_key=True, index=True),
    counter("total"),
    counter("healthy"),
    counter("degraded"),
    counter("unhealthy"),
    counter("unknown"),
    # How many of `total` were injected by a chaos experiment (already counted by status as well).
    counter("injected"),
    # How many of `total` were taken in maintenance, and how many of those passed (healthy or
    # degraded): availability leaves them out of both sides of its fraction.
    counter("maintenance"),
    counter("maintenance_up"),
    Column("latency_sum_ms", REAL, nullable=False, server_default=text("0")),
    Column("latency_min_ms", REAL),
    Column("latency_max_ms", REAL),
    CheckConstraint("hour % 3600 = 0", name="hour_aligned"),
    CheckConstraint("total = healthy + degraded + unhealthy + unknown", name="counts_add_up"),
    CheckConstraint("injected <= total", name="injected_within_total"),
)

# How far the hourly rollups have counted check_results: every result with `id <= result_id` is in them,
# none above it. The writer inserts results batch by batch but folds them into the rollups only every
# few seconds (results_sql.fold_rollups): with one result per component per batch, an upsert per
# component per batch was ~6 % of the daemon's CPU per check (issue 11). The mark commits in the same
# transaction as the fold, so a fold happens once whatever is killed when; results above it (at most a
# few seconds of them) are folded by the next fold, the writer's stop, or the next start.
result_rollups_mark = Table(
    "result_rollups_mark",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("result_id", RowId, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# The hourly rollups summed per UTC day, kept by triggers on result_rollups_hourly (schema/triggers/
# result_rollups_daily_*.sql), so any writer keeps them exact. The availability views read 1 / 7 / 30 of
# these per component instead of 24 / 168 / 720 hourly rows (issue 11). Without rowid and keyed
# (component_id, day): each component's days are adjacent rows, which the views range-scan in key order
# and aggregate without a sort (migration 0013); the day index serves retention's deletes.
result_rollups_daily = Table(
    "result_rollups_daily",
    metadata,
    Column("day", BigInteger, nullable=False, index=True),
    Column("component_id", RowId, ForeignKey("components.id"), nullable=False),
    counter("total"),
    counter("healthy"),
    counter("degraded"),
    counter("unhealthy"),
    counter("unknown"),
    counter("injected"),
    counter("maintenance"),
    counter("maintenance_up"),
    Column("latency_sum_ms", REAL, nullable=False, server_default=text("0")),
    Column("latency_min_ms", REAL),
    Column("latency_max_ms", REAL),
    CheckConstraint("day % 86400 = 0", name="day_aligned"),
    CheckConstraint("total = healthy + degraded + unhealthy + unknown", name="counts_add_up"),
    CheckConstraint("injected <= total", name="injected_within_total"),
    PrimaryKeyConstraint("component_id", "day"),
    sqlite_with_rowid=False,
)

# --- circuit breakers --------------------------------------------------------------------------------

breakers = Table(
    "breakers",
    metadata,
    Column("component_id", RowId, ForeignKey("components.id"), primary_key=True),
    Column("state", Text, nullable=False),
    Column("since", Time, nullable=False),
    # Absolute wall-clock deadline, so an open breaker stays open across a restart.
    Column("open_until", Time),
    counter("consecutive_failures"),
    counter("consecutive_successes"),
    counter("reopen_count"),
    Column("recent", Json, nullable=False, server_default=text("'[]'")),
    # When it last closed: the re-open backoff resets after the breaker has stayed closed a while.
    Column("last_closed_at", Time),
    Column("updated_at", Time, nullable=False),
    one_of("state", BREAKER_STATES),
    json_valid("recent"),
)

breaker_transitions = Table(
    "breaker_transitions",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("component_id", "components.id", index=False),
    Column("ts", Time, nullable=False),
    Column("from_state", Text, nullable=False),
    Column("to_state", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("open_until", Time),
    one_of("from_state", BREAKER_STATES),
    one_of("to_state", BREAKER_STATES),
    Index(None, "component_id", "ts"),
)

# One row per outage (a closed breaker opening, until its next close), kept by triggers on
# breaker_transitions (schema/triggers/breaker_outages_*.sql). recovery_mttr reads these through the
# (component_id, seconds, closed_at) index: the median is an OFFSET into it, so the view costs about one
# index walk however long the history, where pairing transitions at query time cost seconds at a year
# of history (issue 11). `seconds` is NULL while the outage goes on. Derived data: a trigger prunes an
# outage with the transition that opened it.
breaker_outages = Table(
    "breaker_outages",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("component_id", "components.id", index=False),
    Column("opened_at", Time, nullable=False),
    Column("closed_at", Time),
    Column("seconds", REAL),
    Index(None, "component_id", "seconds", "closed_at"),
)

# Per component, the finished outages' figures recovery_mttr shows, recomputed from breaker_outages through
# its index whenever an outage closes or is pruned (schema/triggers/breaker_outages_*.sql), so the view
# reads one row per component, median included.
breaker_outage_stats = Table(
    "breaker_outage_stats",
    metadata,
    Column("component_id", RowId, ForeignKey("components.id"), primary_key=True, autoincrement=False),
    counter("recoveries"),
    Column("mean_s", REAL),
    Column("median_s", REAL),
    Column("min_s", REAL),
    Column("max_s", REAL),
    Column("last_closed_at", Time),
)

# --- healing -----------------------------------------------------------------------------------------

incidents = Table(
    "incidents",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("component_id", "components.id", index=False),
    Column("opened_at", Time, nullable=False),
    Column("closed_at", Time),
    Column("status", Text, nullable=False, server_default=text("'open'")),
    Column("trigger", Text, nullable=False),
    # Name of the (transitive) dependency this incident waited on while root cause came first; kept
    # after the dependency healed, so the record says why the component got no action of its own.
    Column("waiting_on", Text),
    Column("acked_at", Time),
    one_of("status", INCIDENT_STATUSES),
    Index(None, "component_id", "opened_at"),
    # At most one open incident per component: the healer's "find the open incident" is then exact.
    Index("uq_incidents_one_open_per_component", "component_id", unique=True, sqlite_where=text("status = 'open'")),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("incident_id", "incidents.id", nullable=True),
    fk("component_id", "components.id", index=False),
    Column("ts", Time, nullable=False),
    Column("kind", Text, nullable=False),
    Column("step", Integer),
    Column("strategy", Text),
    Column("reason", Text, nullable=False),
    # For `wait`: when to decide again (absolute, survives a restart).
    Column("until", Time),
    one_of("kind", DECISION_KINDS),
    one_of("strategy", STRATEGIES, nullable=True),
    Index(None, "component_id", "ts"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("name", Text, nullable=False),
    fk("component_id", "components.id", nullable=True),
    Column("taken_at", Time, nullable=False),
    Column("location", Text, nullable=False),
    Column("files", Json, nullable=False, server_default=text("'{}'")),
    Column("size_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("status", Text, nullable=False),
    one_of("status", CHECKPOINT_STATUSES),
    json_valid("files"),
    Index(None, "name", "taken_at"),
)

recovery_events = Table(
    "recovery_events",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("incident_id", "incidents.id"),
    fk("component_id", "components.id", index=False),
    Column("strategy", Text, nullable=False),
    # Position in the component's ladder (0-based) and the attempt number within that step (1-based).
    Column("step", Integer, nullable=False),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    Column("reason", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'started'")),
    Column("started_at", Time, nullable=False),
    Column("finished_at", Time),
    # When the component's own check passed after the action (a step succeeds only then).
    Column("verified_at", Time),
    # Which action of the step ran: run, then, activate, deactivate, notify.
    Column("action", Text),
    Column("exit_code", Integer),
    Column("output", Text),
    Column("candidate", Text),
    fk("checkpoint_id", "checkpoints.id", nullable=True),
    flag("dry_run"),
    one_of("strategy", STRATEGIES),
    one_of("status", RECOVERY_STATUSES),
    Index(None, "component_id", "started_at"),
    Index(None, "started_at"),
)

# Per component and ladder strategy (`failback` apart, as the view shows it), the counts of finished, real
# recovery events by outcome, kept by triggers on recovery_events (schema/triggers/recovery_outcomes_*.sql)
# including retention's deletes; recovery_verified holds each verified step's seconds to health, whose
# (component_id, strategy, seconds) index gives the group's median and maximum, recomputed at write time
# (a recovery event is rare; a report is not). recovery_ladder_outcomes reads one row per group instead
# of sorting every recovery event of the year (~200 ms at 75k events; issue 11).
recovery_outcomes = Table(
    "recovery_outcomes",
    metadata,
    fk("component_id", "components.id", index=False),
    Column("strategy", Text, nullable=False),
    counter("succeeded"),
    counter("failed"),
    counter("interrupted"),
    counter("in_progress"),
    Column("last_started_at", Time),
    # Over the group's recovery_verified rows, recomputed through its index whenever one comes or goes.
    counter("verified"),
    Column("median_to_verified_s", REAL),
    Column("max_to_verified_s", REAL),
    PrimaryKeyConstraint("component_id", "strategy"),
    sqlite_with_rowid=False,
)

recovery_verified = Table(
    "recovery_verified",
    metadata,
    # The recovery event's id (not a foreign key: the row goes with its event, by trigger).
    Column("event_id", RowId, primary_key=True, autoincrement=False),
    fk("component_id", "components.id", index=False),
    Column("strategy", Text, nullable=False),
    Column("seconds", REAL, nullable=False),
    Index(None, "component_id", "strategy", "seconds"),
)

ladder_state = Table(
    "ladder_state",
    metadata,
    # Per component: what survives a restart so the ladder resumes instead of starting over.
    Column("component_id", RowId, ForeignKey("components.id"), primary_key=True),
    fk("incident_id", "incidents.id", nullable=True),
    Column("step", Integer),
    Column("next_attempt_at", Time),
    # The previous backoff sleep, which decorrelated jitter needs for the next one.
    Column("backoff_prev_s", REAL),
    Column("cooldown_until", Time),
    Column("healthy_since", Time),
    Column("updated_at", Time, nullable=False),
    # The whole LadderState (engine/ladder.py) as JSON: budgets per step, the step in progress, the
    # escalation, the active fallback, owed `resolved` messages. The columns above mirror parts of it
    # for the sqlite3 shell; the daemon restores from this one, written with the row it belongs to.
    Column("ladder", Json),
    json_valid("ladder", nullable=True),
)

fallback_state = Table(
    "fallback_state",
    metadata,
    Column("component_id", RowId, ForeignKey("components.id"), primary_key=True),
    Column("active_candidate", Text),
    Column("activated_at", Time),
    fk("incident_id", "incidents.id", nullable=True),
    # Since when the primary has been healthy again: failback after `failback_after` of it.
    Column("primary_healthy_since", Time),
    Column("updated_at", Time, nullable=False),
)

escalations = Table(
    "escalations",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("incident_id", "incidents.id", index=False),
    fk("component_id", "components.id"),
    Column("channel", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    counter("attempts"),
    Column("error", Text),
    Column("next_attempt_at", Time),
    Column("delivered_at", Time),
    one_of("kind", ESCALATION_KINDS),
    one_of("status", ESCALATION_STATUSES),
    Index(None, "incident_id", "created_at"),
    # One initial and one resolved message per incident and channel; reminders repeat.
    Index(
        "uq_escalations_once_per_incident",
        "incident_id",
        "channel",
        "kind",
        unique=True,
        sqlite_where=text("kind IN ('initial', 'resolved')"),
    ),
)

# --- degradation -------------------------------------------------------------------------------------

degradation_state = Table(
    "degradation_state",
    metadata,
    # A single row (id = 1): the current level survives a restart with its override.
    Column("id", Integer, primary_key=True),
    Column("level", Text, nullable=False),
    Column("score", REAL),
    Column("unknown_count", Integer, nullable=False, server_default=text("0")),
    Column("since", Time, nullable=False),
    # Hysteresis: the level the score points at and since when, until the hold time has passed.
    Column("pending_level", Text),
    Column("pending_since", Time),
    Column("override_level", Text),
    Column("override_until", Time),
    Column("override_reason", Text),
    Column("updated_at", Time, nullable=False),
    # The level tracker's whole snapshot (engine/degradation.py TrackerState): the columns above show
    # one pending level, but hysteresis keeps one per better level, and the override's set time.
    Column("tracker", Json),
    CheckConstraint("id = 1", name="single_row"),
    one_of("level", LEVELS),
    one_of("pending_level", LEVELS, nullable=True),
    one_of("override_level", LEVELS, nullable=True),
    json_valid("tracker", nullable=True),
)

degradation_history = Table(
    "degradation_history",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("ts", Time, nullable=False, index=True),
    Column("from_level", Text),
    Column("to_level", Text, nullable=False),
    Column("score", REAL),
    Column("reason", Text, nullable=False),
    one_of("from_level", LEVELS, nullable=True),
    one_of("to_level", LEVELS),
)

health_snapshots = Table(
    "health_snapshots",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("ts", Time, nullable=False, index=True),
    Column("score", REAL),
    Column("level", Text, nullable=False),
    Column("unknown_count", Integer, nullable=False, server_default=text("0")),
    Column("components", Integer, nullable=False, server_default=text("0")),
    one_of("level", LEVELS),
    CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
)

# The operator-facing report is the `feature_flags` view (schema/views/feature_flags.sql).
feature_flag_state = Table(
    "feature_flag_state",
    metadata,
    Column("name", Text, primary_key=True),
    flag("enabled", default=True),
    Column("reason", Text),
    Column("updated_at", Time, nullable=False),
)

# --- chaos -------------------------------------------------------------------------------------------

chaos_experiments = Table(
    "chaos_experiments",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("description", Text),
    # Component name (not a key): an experiment file may outlive the component it targeted.
    Column("target", Text, nullable=False),
    Column("spec", Json, nullable=False, server_default=text("'{}'")),
    Column("source_file", Text),
    Column("loaded_at", Time, nullable=False),
    Column("removed_at", Time),
    json_valid("spec"),
)

chaos_runs = Table(
    "chaos_runs",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("experiment_id", "chaos_experiments.id", index=False),
    Column("started_at", Time, nullable=False),
    Column("finished_at", Time),
    Column("verdict", Text, nullable=False, server_default=text("'running'")),
    Column("reason", Text),
    Column("trigger", Text, nullable=False, server_default=text("'manual'")),
    flag("dry_run"),
    Column("injected_at", Time),
    Column("detected_at", Time),
    Column("recovered_at", Time),
    Column("reverted_at", Time),
    Column("min_score", REAL),
    Column("max_level", Text),
    # JSON list of sentences, e.g. when detection took longer than the check interval allows.
    Column("recommendations", Json, nullable=False, server_default=text("'[]'")),
    one_of("verdict", CHAOS_VERDICTS),
    one_of("max_level", LEVELS, nullable=True),
    json_valid("recommendations"),
    Index(None, "experiment_id", "started_at"),
)

chaos_events = Table(
    "chaos_events",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("run_id", RowId, ForeignKey("chaos_runs.id"), nullable=False),
    Column("ts", Time, nullable=False),
    # Lifecycle step: steady_state_before, inject, detected, recovered, abort, revert, rollback, ...
    Column("step", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("message", Text),
    Column("data", Json),
    json_valid("data", nullable=True),
    Index(None, "run_id", "ts"),
)

# --- maintenance (issue 10) --------------------------------------------------------------------------

maintenance_periods = Table(
    "maintenance_periods",
    metadata,
    Column("id", RowId, primary_key=True),
    # NULL: every component.
    fk("component_id", "components.id", nullable=True),
    # `window`: one occurrence of a [[maintenance]] window; `silence`: `healerd silence`.
    Column("kind", Text, nullable=False),
    Column("name", Text),
    Column("reason", Text),
    Column("starts_at", Time, nullable=False),
    Column("ends_at", Time, nullable=False),
    # `healerd silence clear` ended it early.
    Column("cleared_at", Time),
    Column("created_at", Time, nullable=False),
    one_of("kind", ("window", "silence")),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    Index(None, "ends_at"),
)

# --- operators and config ----------------------------------------------------------------------------

operator_commands = Table(
    "operator_commands",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("created_at", Time, nullable=False),
    Column("command", Text, nullable=False),
    Column("target", Text),
    Column("args", Json, nullable=False, server_default=text("'{}'")),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("applied_at", Time),
    Column("outcome", Text),
    one_of("status", COMMAND_STATUSES),
    json_valid("args"),
    # The daemon polls for pending commands about once a second.
    Index(None, "status"),
)

# The sanctioned way past the append-only triggers of breaker_transitions, decisions and recovery_events:
# `[retention] history` pruning writes its cutoff here, deletes, and clears it, all in one transaction;
# the triggers let a delete through only for a row older than this horizon that belongs to no open
# incident (schema/triggers/*_no_delete.sql). NULL (always, outside a prune) refuses every delete.
retention_horizon = Table(
    "retention_horizon",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("history_before", Time),
    CheckConstraint("id = 1", name="single_row"),
)

config_errors = Table(
    "config_errors",
    metadata,
    Column("id", RowId, primary_key=True),
    Column("ts", Time, nullable=False),
    Column("path", Text, nullable=False),
    Column("key", Text),
    Column("line", Integer),
    Column("message", Text, nullable=False),
    Column("resolved_at", Time),
    Index(None, "path", "ts"),
)

# --- the daemon itself -------------------------------------------------------------------------------

# One row (id = 1), rewritten at each start and stop: where the daemon on this database reads its config,
# so `healerd chaos list`, `checkpoint create` or `check --run` work without repeating --config, and
# which host and version wrote the history (shown by `healerd status`).
daemon_info = Table(
    "daemon_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("config_dir", Text, nullable=False),
    Column("db_path", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", Text, nullable=False),
    Column("started_at", Time, nullable=False),
    Column("stopped_at", Time),
    CheckConstraint("id = 1", name="single_row"),
)

# --- fleet mode (issue 14) -----------------------------------------------------------------------------

fleet_marks = Table(
    "fleet_marks",
    metadata,
    # Per shipped table: the highest local id the centre has acknowledged (committed), so a restart
    # resumes there and retention knows what it may prune; the centre's upsert makes a replay harmless.
    Column("table_name", Text, primary_key=True),
    Column("shipped_id", BigInteger, nullable=False, server_default=text("0")),
    # Lowest id that was not final yet (an open incident, a started recovery): rows from here on are
    # re-read each round and re-sent when they changed.
    Column("open_from", BigInteger),
    counter("rows_shipped"),
    # Unshipped rows retention had to delete because the disk was about to fill (said in the log too).
    counter("dropped_unshipped"),
    Column("shipped_at", Time),
)

fleet_status = Table(
    "fleet_status",
    metadata,
    # A single row (id = 1): what `healerd status` shows about shipping, written by the shipper.
    Column("id", Integer, primary_key=True),
    Column("host", Text, nullable=False),
    Column("centre", Text, nullable=False),
    Column("last_attempt_at", Time),
    Column("last_success_at", Time),
    Column("last_error", Text),
    # Age of the oldest row not shipped yet (0 when caught up), as of `updated_at`.
    Column("lag_s", REAL),
    Column("updated_at", Time, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

fleet_holds = Table(
    "fleet_holds",
    metadata,
    # Components whose local remediation is held because a fleet incident says the cause is shared.
    Column("component", Text, primary_key=True),
    Column("fleet_incident_id", BigInteger, nullable=False),
    Column("until", Time, nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", Time, nullable=False),
)

# --- shadow mode (issue 15) ---------------------------------------------------------------------------

shadow_decisions = Table(
    "shadow_decisions",
    metadata,
    Column("id", RowId, primary_key=True),
    fk("component_id", "components.id", index=False),
    Column("ts", Time, nullable=False),
    # The shadow policy set (its config directory): several may be compared over time.
    Column("shadow_config", Text, nullable=False),
    # The shadow's own incident number: its incidents are never rows of `incidents`.
    Column("incident", Integer),
    Column("kind", Text, nullable=False),
    Column("step", Integer),
    Column("strategy", Text),
    Column("reason", Text, nullable=False),
    Column("until", Time),
    one_of("kind", DECISION_KINDS),
    one_of("strategy", STRATEGIES, nullable=True),
    Index(None, "component_id", "ts"),
)
