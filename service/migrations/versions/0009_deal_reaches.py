"""deal reaches: the stages each deal reached, kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:00:00

The report's stage conversion counts how far the deals created in a period went. Reading each deal's moves and
ordering them took most of the whole report's time on a million deals; deal_reaches keeps, per deal and
pipeline, the stages its moves reached, those reached strictly and how many were blocked (so also whether a
deal was ever blocked). A row trigger on transitions keeps it exact (service/models/reach_sql.py); it is filled
here from the moves already stored, while transitions are locked against writes. As with 0008: SQLite drops a
table's triggers when a batch migration rebuilds it, and a change to reach_sql needs a new migration with a
frozen copy of this revision's SQL here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import reach_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # no move may slip between the fill and the trigger
        op.execute("LOCK TABLE transitions IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "deal_reaches",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=64), nullable=False),
        sa.Column("stages", sa.Text(), nullable=True),
        sa.Column("strict_stages", sa.Text(), nullable=True),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_deal_reaches_connection_id_connections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("record_id", "connection_id", "pipeline", name=op.f("pk_deal_reaches")),
    )
    op.create_index("ix_deal_reaches_blocked", "deal_reaches", ["record_id"], postgresql_where=sa.text("blocked > 0"),
                    sqlite_where=sa.text("blocked > 0"))
    for statement in (*reach_sql.fill(dialect), *reach_sql.create_triggers(dialect)):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute("ANALYZE deal_reaches")


def downgrade() -> None:
    for statement in reach_sql.drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("deal_reaches")
