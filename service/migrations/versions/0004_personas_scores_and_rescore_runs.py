"""personas, scores and rescore runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:50:13.646738
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "personas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=True),
        sa.Column("ring", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("owner_connection_id", sa.Integer(), nullable=True),
        sa.Column("owner_crm_user_id", sa.String(length=64), nullable=True),
        sa.Column("review_interval_days", sa.Integer(), nullable=False),
        sa.Column("last_reviewed_on", sa.Date(), nullable=True),
        sa.Column("review_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("must_cap", sa.String(length=1), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_connection_id"],
            ["connections.id"],
            name=op.f("fk_personas_owner_connection_id_connections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personas")),
        sa.UniqueConstraint("name", name=op.f("uq_personas_name")),
    )
    op.create_table(
        "persona_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("persona_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_persona_versions_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persona_versions")),
        sa.UniqueConstraint("persona_id", "version", name=op.f("uq_persona_versions_persona_id_version")),
    )
    op.create_table(
        "record_scores",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("best_persona_id", sa.Integer(), nullable=True),
        sa.Column("best_score", sa.Integer(), nullable=True),
        sa.Column("best_grade", sa.String(length=1), nullable=True),
        sa.Column("previous_best_score", sa.Integer(), nullable=True),
        sa.Column("trend", sa.String(length=16), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("written", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_scores_record_id_records"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_scores")),
    )
    with op.batch_alter_table("record_scores", schema=None) as batch_op:
        batch_op.create_index("ix_record_scores_best", ["best_persona_id", "best_grade"], unique=False)

    op.create_table(
        "rescore_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("persona_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("last_record_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name=op.f("fk_rescore_runs_persona_id_personas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_runs")),
    )
    with op.batch_alter_table("rescore_runs", schema=None) as batch_op:
        batch_op.create_index("ix_rescore_runs_status", ["status", "id"], unique=False)

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_write_back", sa.JSON(), nullable=True))

    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("persona_requirement", sa.JSON(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.drop_column("persona_requirement")

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("score_write_back")

    with op.batch_alter_table("rescore_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_rescore_runs_status")

    op.drop_table("rescore_runs")
    with op.batch_alter_table("record_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_record_scores_best")

    op.drop_table("record_scores")
    op.drop_table("persona_versions")
    op.drop_table("personas")
