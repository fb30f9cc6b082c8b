"""report indexes and day counts of transitions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

The qualification report (issue 13) on a million deals and five million moves. Transitions get indexes for the
period's moves, the blocked ones and, per deal, what the report reads (PostgreSQL covers them, so those scans
are index-only); records get indexes on when deals were created and closed (and so the planner's statistics of
them). transition_days and transition_field_days count moves per UTC day, and a blocked move's passed_at and
followed say when its deal passed the stage after all and whether it moved since; row triggers on transitions
keep all of it exact (service/models/rollup_sql.py), and it is filled here from the moves already stored, while
transitions are locked against writes. SQLite drops a table's triggers when a batch migration rebuilds it: a
later migration that rebuilds transitions must create them again (tests/integration/test_report_rollup.py checks
the counts at head). The SQL is rollup_sql's as of this revision; a change to it needs a new migration, and a
frozen copy of this revision's SQL here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import rollup_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RECORD_READS = ["id", "connection_id", "to_pipeline", "to_stage", "direction", "stages_passed", "decision"]
BLOCKED_READS = ["record_id", "id", "connection_id", "to_pipeline", "from_stage", "to_stage", "owner_id", "passed_at",
                 "followed"]
BLOCKED = "decision = 'blocked'"
HELD, HELD_SQLITE = "decision = 'blocked' AND NOT followed", "decision = 'blocked' AND followed = 0"
HELD_READS = ["from_stage", "to_stage", "to_pipeline", "connection_id", "occurred_at"]
UNCOUNTED = "owner_id IS NULL OR to_pipeline IS NULL OR mover_kind IS NULL"
UNCOUNTED_READS = ["record_id", "connection_id", "to_pipeline", "to_stage", "owner_id", "direction", "decision",
                   "source", "mover_kind", "too_old", "required_fields", "unfilled_fields", "stages_passed"]
RECORD_TIMES = {"ix_records_created": "coalesce(crm_created_at, created_at)",
                "ix_records_closed": "coalesce(closed_at, stage_changed_at)"}
MEASURES = ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old", "required",
            "unfilled", "skips")


def _keys(**lengths: int) -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(length=length), nullable=False) for name, length in lengths.items()]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # no move may slip between the fill and the triggers
        op.execute("LOCK TABLE transitions IN SHARE ROW EXCLUSIVE MODE")
    op.add_column("transitions", sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("transitions", sa.Column("followed", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "transition_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        *_keys(to_pipeline=64, to_stage=64, owner_id=64, direction=16),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_transition_days_connection_id_connections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "connection_id", "to_pipeline", "to_stage", "owner_id", "direction",
                                name=op.f("pk_transition_days")),
    )
    op.create_table(
        "transition_field_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        *_keys(to_pipeline=64, owner_id=64, field=120, label=300),
        sa.Column("moves", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"],
                                name=op.f("fk_transition_field_days_connection_id_connections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "connection_id", "to_pipeline", "owner_id", "field", "label",
                                name=op.f("pk_transition_field_days")),
    )
    for statement in (*rollup_sql.fill_counts(dialect), *rollup_sql.create_triggers(dialect)):
        op.execute(statement)
    if dialect == "postgresql":  # the planner's statistics of the new tables, before autovacuum gets to them
        op.execute("ANALYZE transition_days, transition_field_days")
    op.drop_index("ix_transitions_record_occurred", table_name="transitions")
    op.create_index("ix_transitions_record_occurred", "transitions", ["record_id", "occurred_at"],
                    postgresql_include=RECORD_READS)
    op.create_index("ix_transitions_occurred", "transitions", ["occurred_at"])
    op.create_index("ix_transitions_blocked", "transitions", ["occurred_at"], postgresql_include=BLOCKED_READS,
                    postgresql_where=sa.text(BLOCKED), sqlite_where=sa.text(BLOCKED))
    op.create_index("ix_transitions_uncounted", "transitions", ["occurred_at"], postgresql_include=UNCOUNTED_READS,
                    postgresql_where=sa.text(UNCOUNTED), sqlite_where=sa.text(UNCOUNTED))
    op.create_index("ix_transitions_held", "transitions", ["record_id"], postgresql_include=HELD_READS,
                    postgresql_where=sa.text(HELD), sqlite_where=sa.text(HELD_SQLITE))
    for name, expression in RECORD_TIMES.items():
        op.create_index(name, "records", [sa.text(expression)])


def downgrade() -> None:
    for statement in rollup_sql.drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    for name in RECORD_TIMES:
        op.drop_index(name, table_name="records")
    for name in ("ix_transitions_held", "ix_transitions_uncounted", "ix_transitions_blocked",
                 "ix_transitions_occurred", "ix_transitions_record_occurred"):
        op.drop_index(name, table_name="transitions")
    op.create_index("ix_transitions_record_occurred", "transitions", ["record_id", "occurred_at"])
    with op.batch_alter_table("transitions") as batch:
        batch.drop_column("followed")
        batch.drop_column("passed_at")
    op.drop_table("transition_field_days")
    op.drop_table("transition_days")
