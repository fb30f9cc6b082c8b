"""retention indexes, shared rate-limit state, connection ids never reused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:00:00

Retention purges raw deliveries, processed events, old transitions and sync runs in batches: indexes let it
find them, and let PostgreSQL null the links to a purged row (ON DELETE SET NULL) without scanning the
referencing table. Limiters shared by every process keep their state in rate_limit_states. On SQLite the
connections table is rebuilt with AUTOINCREMENT, so a purged connection's id is never given to a new one (an
old webhook URL would point at another CRM); service.migrate runs SQLite migrations with foreign keys off, or
dropping the old table would delete every connection's children by cascade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"]),
    ("ix_inbound_events_processed_at", "inbound_events", ["processed_at"]),
    ("ix_inbound_events_delivery_id", "inbound_events", ["delivery_id"]),
    ("ix_transitions_event_id", "transitions", ["event_id"]),
    ("ix_outbox_transition_id", "outbox", ["transition_id"]),
)


def upgrade() -> None:
    op.create_table(
        "rate_limit_states",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_states")),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("connections", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("connections", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("rate_limit_states")
