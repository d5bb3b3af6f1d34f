"""Column types, value sets and constraint helpers shared by the table definitions in models.py.

Kept apart so models.py reads as the list of tables. The value sets mirror daemon.types; they are
spelled out here because a stored CHECK must not change when the Python enum does (that takes a
migration).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, ForeignKey, Integer, Text, text
from sqlalchemy.types import REAL

#: Every constraint and index gets a deterministic name, so a later batch migration can drop or alter
#: it by name (SQLite recreates the table; unnamed constraints cannot be targeted).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Row ids: 64-bit everywhere, but spelled INTEGER on SQLite so the column aliases the rowid (a BIGINT
#: primary key would be a separate column plus a hidden rowid, and would not auto-assign).
RowId = BigInteger().with_variant(Integer(), "sqlite")
#: Unix seconds UTC with sub-second precision.
Time = REAL
#: A JSON document stored as text.
Json = Text

STATUSES = ("healthy", "degraded", "unhealthy", "unknown")
BREAKER_STATES = ("closed", "open", "half_open", "forced_open", "disabled")
LEVELS = ("full", "reduced", "minimal", "emergency")
STRATEGIES = ("retry", "restore", "fallback", "escalate")
RECOVERY_STATUSES = ("started", "succeeded", "failed", "interrupted", "skipped")
INCIDENT_STATUSES = ("open", "resolved")
#: what `decide()` returned; the incident's opening and closing and a failback are decisions too.
DECISION_KINDS = ("wait", "run_step", "escalate", "nothing", "open_incident", "close_incident", "failback")
CHECKPOINT_STATUSES = ("taking", "verified", "failed", "corrupt", "pruned")
ESCALATION_KINDS = ("initial", "reminder", "resolved")
ESCALATION_STATUSES = ("pending", "delivered", "failed")
CHAOS_VERDICTS = ("running", "passed", "failed", "aborted", "interrupted", "refused")
COMMAND_STATUSES = ("pending", "applied", "rejected", "failed")


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> CheckConstraint:
    """A named CHECK restricting `column` to `values` (named `<column>`, expanded by the convention)."""
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


def flag(name: str, *, default: bool = False) -> Column:
    """A boolean stored as 0/1 with a named CHECK, so `injected = 'yes'` cannot sneak in."""
    return Column(
        name,
        Boolean(create_constraint=True, name=name),
        nullable=False,
        server_default=text("1" if default else "0"),
    )


def fk(name: str, target: str, *, nullable: bool = False, index: bool = True) -> Column:
    """A foreign key column; `index=False` only where a composite index already leads with it."""
    return Column(name, RowId, ForeignKey(target), nullable=nullable, index=index)


def json_valid(column: str, *, nullable: bool = False) -> CheckConstraint:
    """A named CHECK that `column` holds JSON, so the views' json_each() can never fail on a row."""
    condition = f"json_valid({column})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_json")


def counter(name: str) -> Column:
    return Column(name, BigInteger, nullable=False, server_default=text("0"))
