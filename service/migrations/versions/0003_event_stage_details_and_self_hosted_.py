"""event stage details and self-hosted portals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 20:53:40.700447
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("self_hosted", sa.Boolean(), server_default="0", nullable=False))

    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("old_stage", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("new_pipeline", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("old_pipeline", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_column("old_pipeline")
        batch_op.drop_column("new_pipeline")
        batch_op.drop_column("old_stage")

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("self_hosted")
