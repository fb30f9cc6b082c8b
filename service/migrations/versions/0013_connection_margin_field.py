"""a connection's margin field

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 10:00:00

Issue 15 (the data-driven portrait): ABC by margin needs each purchase's margin. A connection may name the
portrait field (number or money, mapped from a deal property) whose value on a won deal is that purchase's margin
(`connections.margin_field`); purchases imported from files carry their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("margin_field", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("margin_field")
