"""The shipped check results gain what local revisions 0012 and 0006 added: a plugin's `perfdata` and
the `maintenance` flag (a result taken in a maintenance window or silence).

Revision ID: f002
Revises: f001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f002'
down_revision: str | None = 'f001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('check_results', sa.Column('perfdata', sa.Text(), nullable=True))
    # rows shipped before this revision were never taken in maintenance
    op.add_column('check_results', sa.Column('maintenance', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('check_results', 'maintenance')
    op.drop_column('check_results', 'perfdata')
