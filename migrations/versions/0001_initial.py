"""Initial schema: every table of docs/ARCHITECTURE.md, then the views and triggers from schema/.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:16:20.483393
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from daemon.store import schema_sql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chaos_experiments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.REAL(), nullable=False),
        sa.Column("removed_at", sa.REAL(), nullable=True),
        sa.CheckConstraint("json_valid(spec)", name=op.f("ck_chaos_experiments_spec_json")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chaos_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_chaos_experiments_name")),
    )
    op.create_table(
        "components",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("check_kind", sa.Text(), nullable=False),
        sa.Column("weight", sa.REAL(), server_default=sa.text("(1.0)"), nullable=False),
        sa.Column("every_s", sa.REAL(), nullable=False),
        sa.Column("depends_on", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("spec", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("loaded_at", sa.REAL(), nullable=False),
        sa.Column("removed_at", sa.REAL(), nullable=True),
        sa.CheckConstraint("every_s > 0", name=op.f("ck_components_every_positive")),
        sa.CheckConstraint("json_valid(depends_on)", name=op.f("ck_components_depends_on_json")),
        sa.CheckConstraint("json_valid(spec)", name=op.f("ck_components_spec_json")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_components_weight_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
        sa.UniqueConstraint("name", name=op.f("uq_components_name")),
    )
    op.create_table(
        "config_errors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.REAL(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_errors")),
    )
    op.create_index(op.f("ix_config_errors_path_ts"), "config_errors", ["path", "ts"])

    op.create_table(
        "degradation_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("from_level", sa.Text(), nullable=True),
        sa.Column("to_level", sa.Text(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "from_level IS NULL OR from_level IN ('full', 'reduced', 'minimal', 'emergency')",
            name=op.f("ck_degradation_history_from_level"),
        ),
        sa.CheckConstraint(
            "to_level IN ('full', 'reduced', 'minimal', 'emergency')", name=op.f("ck_degradation_history_to_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_degradation_history")),
    )
    op.create_index(op.f("ix_degradation_history_ts"), "degradation_history", ["ts"])

    op.create_table(
        "degradation_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=True),
        sa.Column("unknown_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("since", sa.REAL(), nullable=False),
        sa.Column("pending_level", sa.Text(), nullable=True),
        sa.Column("pending_since", sa.REAL(), nullable=True),
        sa.Column("override_level", sa.Text(), nullable=True),
        sa.Column("override_until", sa.REAL(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.CheckConstraint(
            "level IN ('full', 'reduced', 'minimal', 'emergency')", name=op.f("ck_degradation_state_level")
        ),
        sa.CheckConstraint(
            "override_level IS NULL OR override_level IN ('full', 'reduced', 'minimal', 'emergency')",
            name=op.f("ck_degradation_state_override_level"),
        ),
        sa.CheckConstraint(
            "pending_level IS NULL OR pending_level IN ('full', 'reduced', 'minimal', 'emergency')",
            name=op.f("ck_degradation_state_pending_level"),
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_degradation_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_degradation_state")),
    )
    op.create_table(
        "feature_flags",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "enabled",
            sa.Boolean(create_constraint=True, name=op.f("ck_feature_flags_enabled")),
            server_default=sa.text("1"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feature_flags")),
    )
    op.create_table(
        "health_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("unknown_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("components", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "level IN ('full', 'reduced', 'minimal', 'emergency')", name=op.f("ck_health_snapshots_level")
        ),
        sa.CheckConstraint(
            "score IS NULL OR (score >= 0 AND score <= 100)", name=op.f("ck_health_snapshots_score_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_snapshots")),
    )
    op.create_index(op.f("ix_health_snapshots_ts"), "health_snapshots", ["ts"])

    op.create_table(
        "operator_commands",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.REAL(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("args", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("applied_at", sa.REAL(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'rejected', 'failed')", name=op.f("ck_operator_commands_status")
        ),
        sa.CheckConstraint("json_valid(args)", name=op.f("ck_operator_commands_args_json")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_commands")),
    )
    op.create_index(op.f("ix_operator_commands_status"), "operator_commands", ["status"])

    op.create_table(
        "breaker_transitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=False),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("open_until", sa.REAL(), nullable=True),
        sa.CheckConstraint(
            "from_state IN ('closed', 'open', 'half_open', 'forced_open', 'disabled')",
            name=op.f("ck_breaker_transitions_from_state"),
        ),
        sa.CheckConstraint(
            "to_state IN ('closed', 'open', 'half_open', 'forced_open', 'disabled')",
            name=op.f("ck_breaker_transitions_to_state"),
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_breaker_transitions_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaker_transitions")),
    )
    op.create_index(op.f("ix_breaker_transitions_component_id_ts"), "breaker_transitions", ["component_id", "ts"])

    op.create_table(
        "breakers",
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("since", sa.REAL(), nullable=False),
        sa.Column("open_until", sa.REAL(), nullable=True),
        sa.Column("consecutive_failures", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("consecutive_successes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("reopen_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("recent", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("last_closed_at", sa.REAL(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.CheckConstraint(
            "state IN ('closed', 'open', 'half_open', 'forced_open', 'disabled')", name=op.f("ck_breakers_state")
        ),
        sa.CheckConstraint("json_valid(recent)", name=op.f("ck_breakers_recent_json")),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"], name=op.f("fk_breakers_component_id_components")),
        sa.PrimaryKeyConstraint("component_id", name=op.f("pk_breakers")),
    )
    op.create_table(
        "chaos_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("experiment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", sa.REAL(), nullable=False),
        sa.Column("finished_at", sa.REAL(), nullable=True),
        sa.Column("verdict", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("trigger", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column(
            "dry_run",
            sa.Boolean(create_constraint=True, name=op.f("ck_chaos_runs_dry_run")),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("injected_at", sa.REAL(), nullable=True),
        sa.Column("detected_at", sa.REAL(), nullable=True),
        sa.Column("recovered_at", sa.REAL(), nullable=True),
        sa.Column("reverted_at", sa.REAL(), nullable=True),
        sa.Column("min_score", sa.REAL(), nullable=True),
        sa.Column("max_level", sa.Text(), nullable=True),
        sa.Column("recommendations", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
        sa.CheckConstraint(
            "max_level IS NULL OR max_level IN ('full', 'reduced', 'minimal', 'emergency')",
            name=op.f("ck_chaos_runs_max_level"),
        ),
        sa.CheckConstraint(
            "verdict IN ('running', 'passed', 'failed', 'aborted', 'interrupted', 'refused')",
            name=op.f("ck_chaos_runs_verdict"),
        ),
        sa.CheckConstraint("json_valid(recommendations)", name=op.f("ck_chaos_runs_recommendations_json")),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["chaos_experiments.id"], name=op.f("fk_chaos_runs_experiment_id_chaos_experiments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chaos_runs")),
    )
    op.create_index(op.f("ix_chaos_runs_experiment_id_started_at"), "chaos_runs", ["experiment_id", "started_at"])

    op.create_table(
        "check_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.REAL(), nullable=True),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "injected",
            sa.Boolean(create_constraint=True, name=op.f("ck_check_results_injected")),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('healthy', 'degraded', 'unhealthy', 'unknown')", name=op.f("ck_check_results_status")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_check_results_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_results")),
    )
    op.create_index(op.f("ix_check_results_component_id_ts"), "check_results", ["component_id", "ts"])
    op.create_index(op.f("ix_check_results_ts"), "check_results", ["ts"])

    op.create_table(
        "checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("taken_at", sa.REAL(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('taking', 'verified', 'failed', 'corrupt', 'pruned')", name=op.f("ck_checkpoints_status")
        ),
        sa.CheckConstraint("json_valid(files)", name=op.f("ck_checkpoints_files_json")),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_checkpoints_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
    )
    op.create_index(op.f("ix_checkpoints_component_id"), "checkpoints", ["component_id"])
    op.create_index(op.f("ix_checkpoints_name_taken_at"), "checkpoints", ["name", "taken_at"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("opened_at", sa.REAL(), nullable=False),
        sa.Column("closed_at", sa.REAL(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("waiting_on", sa.Text(), nullable=True),
        sa.Column("acked_at", sa.REAL(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_incidents_status")),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"], name=op.f("fk_incidents_component_id_components")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_component_id_opened_at"), "incidents", ["component_id", "opened_at"])
    op.create_index(
        "uq_incidents_one_open_per_component",
        "incidents",
        ["component_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
    )

    op.create_table(
        "result_rollups_hourly",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("total", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("healthy", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("degraded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("unhealthy", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("unknown", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("injected", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("latency_sum_ms", sa.REAL(), server_default=sa.text("0"), nullable=False),
        sa.Column("latency_min_ms", sa.REAL(), nullable=True),
        sa.Column("latency_max_ms", sa.REAL(), nullable=True),
        sa.CheckConstraint("hour % 3600 = 0", name=op.f("ck_result_rollups_hourly_hour_aligned")),
        sa.CheckConstraint("injected <= total", name=op.f("ck_result_rollups_hourly_injected_within_total")),
        sa.CheckConstraint(
            "total = healthy + degraded + unhealthy + unknown", name=op.f("ck_result_rollups_hourly_counts_add_up")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_result_rollups_hourly_component_id_components")
        ),
        sa.PrimaryKeyConstraint("hour", "component_id", name=op.f("pk_result_rollups_hourly")),
    )
    op.create_index(op.f("ix_result_rollups_hourly_component_id"), "result_rollups_hourly", ["component_id"])

    op.create_table(
        "chaos_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.CheckConstraint("data IS NULL OR json_valid(data)", name=op.f("ck_chaos_events_data_json")),
        sa.ForeignKeyConstraint(["run_id"], ["chaos_runs.id"], name=op.f("fk_chaos_events_run_id_chaos_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chaos_events")),
    )
    op.create_index(op.f("ix_chaos_events_run_id_ts"), "chaos_events", ["run_id", "ts"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.REAL(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("strategy", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.REAL(), nullable=True),
        sa.CheckConstraint("kind IN ('wait', 'run_step', 'escalate', 'nothing')", name=op.f("ck_decisions_kind")),
        sa.CheckConstraint(
            "strategy IS NULL OR strategy IN ('retry', 'restore', 'fallback', 'escalate')",
            name=op.f("ck_decisions_strategy"),
        ),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"], name=op.f("fk_decisions_component_id_components")),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_decisions_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_component_id_ts"), "decisions", ["component_id", "ts"])
    op.create_index(op.f("ix_decisions_incident_id"), "decisions", ["incident_id"])

    op.create_table(
        "escalations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("created_at", sa.REAL(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.REAL(), nullable=True),
        sa.Column("delivered_at", sa.REAL(), nullable=True),
        sa.CheckConstraint("kind IN ('initial', 'reminder', 'resolved')", name=op.f("ck_escalations_kind")),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("ck_escalations_status")),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_escalations_component_id_components")
        ),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_escalations_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
    )
    op.create_index(op.f("ix_escalations_component_id"), "escalations", ["component_id"])
    op.create_index(op.f("ix_escalations_incident_id_created_at"), "escalations", ["incident_id", "created_at"])
    op.create_index(
        "uq_escalations_once_per_incident",
        "escalations",
        ["incident_id", "channel", "kind"],
        unique=True,
        sqlite_where=sa.text("kind IN ('initial', 'resolved')"),
    )

    op.create_table(
        "fallback_state",
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("active_candidate", sa.Text(), nullable=True),
        sa.Column("activated_at", sa.REAL(), nullable=True),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("primary_healthy_since", sa.REAL(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_fallback_state_component_id_components")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_fallback_state_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("component_id", name=op.f("pk_fallback_state")),
    )
    op.create_index(op.f("ix_fallback_state_incident_id"), "fallback_state", ["incident_id"])

    op.create_table(
        "ladder_state",
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("next_attempt_at", sa.REAL(), nullable=True),
        sa.Column("backoff_prev_s", sa.REAL(), nullable=True),
        sa.Column("cooldown_until", sa.REAL(), nullable=True),
        sa.Column("healthy_since", sa.REAL(), nullable=True),
        sa.Column("updated_at", sa.REAL(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_ladder_state_component_id_components")
        ),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_ladder_state_incident_id_incidents")),
        sa.PrimaryKeyConstraint("component_id", name=op.f("pk_ladder_state")),
    )
    op.create_index(op.f("ix_ladder_state_incident_id"), "ladder_state", ["incident_id"])

    op.create_table(
        "recovery_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("component_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'started'"), nullable=False),
        sa.Column("started_at", sa.REAL(), nullable=False),
        sa.Column("finished_at", sa.REAL(), nullable=True),
        sa.Column("verified_at", sa.REAL(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("candidate", sa.Text(), nullable=True),
        sa.Column("checkpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "dry_run",
            sa.Boolean(create_constraint=True, name=op.f("ck_recovery_events_dry_run")),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('started', 'succeeded', 'failed', 'interrupted', 'skipped')",
            name=op.f("ck_recovery_events_status"),
        ),
        sa.CheckConstraint(
            "strategy IN ('retry', 'restore', 'fallback', 'escalate')", name=op.f("ck_recovery_events_strategy")
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoints.id"], name=op.f("fk_recovery_events_checkpoint_id_checkpoints")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_recovery_events_component_id_components")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_recovery_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_events")),
    )
    op.create_index(op.f("ix_recovery_events_checkpoint_id"), "recovery_events", ["checkpoint_id"])
    op.create_index(
        op.f("ix_recovery_events_component_id_started_at"), "recovery_events", ["component_id", "started_at"]
    )
    op.create_index(op.f("ix_recovery_events_incident_id"), "recovery_events", ["incident_id"])
    op.create_index(op.f("ix_recovery_events_started_at"), "recovery_events", ["started_at"])

    # Views and triggers come last: they refer to the tables.
    schema_sql.apply(op.get_bind())


def downgrade() -> None:
    schema_sql.drop(op.get_bind())
    # Children before parents, so no foreign key is ever left dangling.
    op.drop_table("recovery_events")
    op.drop_table("ladder_state")
    op.drop_table("fallback_state")
    op.drop_table("escalations")
    op.drop_table("decisions")
    op.drop_table("chaos_events")
    op.drop_table("result_rollups_hourly")
    op.drop_table("incidents")
    op.drop_table("checkpoints")
    op.drop_table("check_results")
    op.drop_table("chaos_runs")
    op.drop_table("breakers")
    op.drop_table("breaker_transitions")
    op.drop_table("operator_commands")
    op.drop_table("health_snapshots")
    op.drop_table("feature_flags")
    op.drop_table("degradation_state")
    op.drop_table("degradation_history")
    op.drop_table("config_errors")
    op.drop_table("components")
    op.drop_table("chaos_experiments")
