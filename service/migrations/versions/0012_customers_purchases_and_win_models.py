"""customers, purchases, segments, analytics runs and win models

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:00:00

Issue 15 (the data-driven portrait): a deal's buyer (company, else contact) is kept on the record; customers and
their purchases (won deals, imported receipts), each customer's current segments, the stored analysis runs and
the per-pipeline win models. Existing deals get their buyer at the next sync.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy on SQLite): a copy would drop the records' expression indexes.
    op.add_column("records", sa.Column("company_external_id", sa.String(length=64), nullable=True))
    op.add_column("records", sa.Column("contact_external_id", sa.String(length=64), nullable=True))
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_customers_connection_id_connections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("source", "kind", "external_id", name=op.f("uq_customers_source")),
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("margin", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_purchases_customer_id_customers")),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="SET NULL",
                                name=op.f("fk_purchases_record_id_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_purchases_source")),
    )
    op.create_index("ix_purchases_customer", "purchases", ["customer_id"])
    op.create_index("ix_purchases_on", "purchases", ["purchased_on"])
    op.create_table(
        "customer_segments",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("scores", sa.String(length=8), nullable=True),
        sa.Column("abc", sa.String(length=1), nullable=True),
        sa.Column("xyz", sa.String(length=1), nullable=True),
        sa.Column("previous_segment", sa.String(length=32), nullable=True),
        sa.Column("changed_at", NOW, nullable=True),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_customer_segments_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_segments")),
    )
    op.create_table(
        "analytics_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", NOW, nullable=False),
        sa.Column("started_at", NOW, nullable=True),
        sa.Column("finished_at", NOW, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_runs")),
    )
    op.create_index("ix_analytics_runs_kind_finished", "analytics_runs", ["kind", "finished_at"])
    op.create_table(
        "win_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_external_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=True),
        sa.Column("auc", sa.Float(), nullable=True),
        sa.Column("brier", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("built_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name=op.f("fk_win_models_connection_id_connections")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_win_models")),
    )
    op.create_index("ix_win_models_pipeline", "win_models", ["connection_id", "pipeline_external_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_win_models_pipeline", table_name="win_models")
    op.drop_table("win_models")
    op.drop_index("ix_analytics_runs_kind_finished", table_name="analytics_runs")
    op.drop_table("analytics_runs")
    op.drop_table("customer_segments")
    op.drop_index("ix_purchases_on", table_name="purchases")
    op.drop_index("ix_purchases_customer", table_name="purchases")
    op.drop_table("purchases")
    op.drop_table("customers")
    op.execute("ALTER TABLE records DROP COLUMN contact_external_id")  # SQLite 3.35+ and PostgreSQL
    op.execute("ALTER TABLE records DROP COLUMN company_external_id")
