"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
${imports if imports else ""}
from daemon.store import fleet_views

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


#: Views this revision adds (older revisions leave them out: fleet_views.apply_as_of).
NEW_VIEWS: frozenset[str] = frozenset()

#: Files under schema/fleet/views/ this revision changes, as the previous revision had them (name → SQL).
OLD_SQL: dict[str, str] = {}


def upgrade() -> None:
    # If a file under schema/fleet/views/ changed or was added, list it above (NEW_VIEWS / OLD_SQL) and
    # end with fleet_views.refresh(op.get_bind(), context.script, revision).
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    # If views changed: start with fleet_views.drop(op.get_bind()) and end with
    # fleet_views.apply_as_of(op.get_bind(), context.script, down_revision).
    ${downgrades if downgrades else "pass"}
