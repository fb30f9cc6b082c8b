"""request ids on events and outbox actions, worker heartbeats

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:00:00

The request id of the webhook request that stored an event is kept on the event and on the outbox actions
decided for it, so the worker's log lines carry it (service/log_context.py). Each worker process writes a
heartbeat row while it loops; /readyz reads the newest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("request_id")
    op.drop_table("worker_heartbeats")
