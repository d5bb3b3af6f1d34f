"""The centre's first schema: the shipped local tables keyed on (host, local key), the fleet's own
tables, helper functions and the views of schema/fleet/views/.

It mirrors the local schema at revision 0008 (0004 plus the fleet tables, which are not shipped). A
local migration that changes a shipped table needs a fleet revision too: tests/fleet/test_fleet_schema.py
fails until fleet_models and this history agree.

Revision ID: f001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from daemon.store import fleet_views

revision: str = "f001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The views' helpers: PostgreSQL spellings of what the local SQLite views write inline.
_FUNCTIONS = (
    """CREATE FUNCTION healerd_now() RETURNS double precision LANGUAGE sql STABLE
       AS $$ SELECT extract(epoch FROM now())::double precision $$""",
    """CREATE FUNCTION healerd_iso(ts double precision) RETURNS text LANGUAGE sql IMMUTABLE
       AS $$ SELECT to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$""",
    """CREATE FUNCTION healerd_round(x double precision) RETURNS double precision LANGUAGE sql IMMUTABLE
       AS $$ SELECT round(x::numeric, 3)::double precision $$""",
    """CREATE FUNCTION healerd_round(x numeric) RETURNS double precision LANGUAGE sql IMMUTABLE
       AS $$ SELECT round(x, 3)::double precision $$""",
)


def upgrade() -> None:
    op.create_table(
        "breaker_transitions",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=False),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("open_until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_breaker_transitions")),
    )
    op.create_index(op.f("ix_breaker_transitions_ts"), "breaker_transitions", ["ts"], unique=False)
    op.create_table(
        "breakers",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("since", sa.Double(), nullable=False),
        sa.Column("open_until", sa.Double(), nullable=True),
        sa.Column("consecutive_failures", sa.BigInteger(), nullable=False),
        sa.Column("consecutive_successes", sa.BigInteger(), nullable=False),
        sa.Column("reopen_count", sa.BigInteger(), nullable=False),
        sa.Column("recent", sa.Text(), nullable=False),
        sa.Column("last_closed_at", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("host", "component_id", name=op.f("pk_breakers")),
    )
    op.create_table(
        "chaos_experiments",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.Double(), nullable=False),
        sa.Column("removed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_chaos_experiments")),
    )
    op.create_table(
        "chaos_runs",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("injected_at", sa.Double(), nullable=True),
        sa.Column("detected_at", sa.Double(), nullable=True),
        sa.Column("recovered_at", sa.Double(), nullable=True),
        sa.Column("reverted_at", sa.Double(), nullable=True),
        sa.Column("min_score", sa.Double(), nullable=True),
        sa.Column("max_level", sa.Text(), nullable=True),
        sa.Column("recommendations", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_chaos_runs")),
    )
    op.create_table(
        "check_results",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("injected", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_check_results")),
    )
    op.create_index(
        op.f("ix_check_results_host_component_id_ts"), "check_results", ["host", "component_id", "ts"], unique=False
    )
    op.create_index(op.f("ix_check_results_ts"), "check_results", ["ts"], unique=False)
    op.create_table(
        "checkpoints",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=True),
        sa.Column("taken_at", sa.Double(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "components",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("check_kind", sa.Text(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("every_s", sa.Double(), nullable=False),
        sa.Column("depends_on", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.Double(), nullable=False),
        sa.Column("removed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_components")),
    )
    op.create_table(
        "config_errors",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_config_errors")),
    )
    op.create_table(
        "decisions",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_decisions")),
    )
    op.create_table(
        "degradation_history",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("from_level", sa.Text(), nullable=True),
        sa.Column("to_level", sa.Text(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_degradation_history")),
    )
    op.create_table(
        "degradation_state",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("unknown_count", sa.Integer(), nullable=False),
        sa.Column("since", sa.Double(), nullable=False),
        sa.Column("pending_level", sa.Text(), nullable=True),
        sa.Column("pending_since", sa.Double(), nullable=True),
        sa.Column("override_level", sa.Text(), nullable=True),
        sa.Column("override_until", sa.Double(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("tracker", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_degradation_state")),
    )
    op.create_table(
        "escalations",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.Double(), nullable=True),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_escalations")),
    )
    op.create_table(
        "feature_flag_state",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("host", "name", name=op.f("pk_feature_flag_state")),
    )
    op.create_table(
        "fleet_hosts_info",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("local_revision", sa.Text(), nullable=True),
        sa.Column("lag_s", sa.Double(), nullable=True),
        sa.Column("rows_shipped", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_fleet_hosts_info")),
    )
    op.create_table(
        "fleet_incidents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("opened_by", sa.Text(), nullable=False),
        sa.Column("hosts_open", sa.Integer(), nullable=False),
        sa.Column("hosts_total", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_fleet_incidents_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_incidents")),
    )
    op.create_index(
        "uq_fleet_incidents_one_open_per_component",
        "fleet_incidents",
        ["component"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "incidents",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("waiting_on", sa.Text(), nullable=True),
        sa.Column("acked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "recovery_events",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("verified_at", sa.Double(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("candidate", sa.Text(), nullable=True),
        sa.Column("checkpoint_id", sa.BigInteger(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("host", "id", name=op.f("pk_recovery_events")),
    )
    for sql in _FUNCTIONS:
        op.execute(sql)
    # The views as this revision had them: later revisions changed some files and added others
    # (PostgreSQL would refuse a view naming a column this revision does not have yet).
    fleet_views.apply_as_of(op.get_bind(), context.script, revision)


def downgrade() -> None:
    fleet_views.drop(op.get_bind())
    op.execute(
        "DROP FUNCTION healerd_now(), healerd_iso(double precision), healerd_round(double precision), healerd_round(numeric)"
    )
    op.drop_table("recovery_events")
    op.drop_table("incidents")
    op.drop_index(
        "uq_fleet_incidents_one_open_per_component",
        table_name="fleet_incidents",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("fleet_incidents")
    op.drop_table("fleet_hosts_info")
    op.drop_table("feature_flag_state")
    op.drop_table("escalations")
    op.drop_table("degradation_state")
    op.drop_table("degradation_history")
    op.drop_table("decisions")
    op.drop_table("config_errors")
    op.drop_table("components")
    op.drop_table("checkpoints")
    op.drop_index(op.f("ix_check_results_ts"), table_name="check_results")
    op.drop_index(op.f("ix_check_results_host_component_id_ts"), table_name="check_results")
    op.drop_table("check_results")
    op.drop_table("chaos_runs")
    op.drop_table("chaos_experiments")
    op.drop_table("breakers")
    op.drop_index(op.f("ix_breaker_transitions_ts"), table_name="breaker_transitions")
    op.drop_table("breaker_transitions")
