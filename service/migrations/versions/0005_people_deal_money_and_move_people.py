"""people, deal money and dates, who moved a deal

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 14:00:00

The reports speak per manager and about money: CRM users per connection; deals get their amount as a number,
their created and close dates; transitions record who moved the deal (the CRM user and through what) and its
owner then. Existing deals get the new values from their CRM: every connection's sync cursor is cleared, so
the next sync reads every deal again (a baseline pass: no deal is gated for standing where it stands).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_crm_users_connection_id_connections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_users")),
        sa.UniqueConstraint("connection_id", "external_id", name=op.f("uq_crm_users_connection_id_external_id")),
    )
    op.create_index("ix_crm_users_connection_user", "crm_users", ["connection_id", "user_id"])
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("amount_value", sa.Numeric(20, 4), nullable=True))
        batch.add_column(sa.Column("crm_created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("transitions") as batch:
        batch.add_column(sa.Column("mover_user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("mover_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("too_old", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("required_fields", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("stages_passed", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("unfilled_fields", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_transitions_connection_occurred", "transitions", ["connection_id", "occurred_at"])
    op.execute(sa.text("UPDATE connections SET sync_cursor = NULL"))


def downgrade() -> None:
    op.drop_index("ix_transitions_connection_occurred", table_name="transitions")
    with op.batch_alter_table("transitions") as batch:
        for column in ("unfilled_fields", "stages_passed", "required_fields", "too_old", "owner_id", "mover_kind",
                       "mover_user_id"):
            batch.drop_column(column)
    with op.batch_alter_table("records") as batch:
        for column in ("closed_at", "crm_created_at", "amount_value"):
            batch.drop_column(column)
    op.drop_index("ix_crm_users_connection_user", table_name="crm_users")
    op.drop_table("crm_users")
