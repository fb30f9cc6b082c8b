"""webhook rejections counted per connection, API keys' last use and expiry

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-11 10:00:00

Issue 14 (admin console): a refused webhook delivery is counted per connection, UTC hour and reason
(`webhook_rejections`; counts only, never bodies) for the connection's webhook health. API keys get the time
they were last used (written at most once a minute per key) and an optional expiry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_rejections",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_rejections_connection_id_connections")),
        sa.PrimaryKeyConstraint("connection_id", "hour", "reason", name=op.f("pk_webhook_rejections")),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("last_used_at")
    op.drop_table("webhook_rejections")
