"""one CRM property may feed several fields

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00

A CRM property (an industry picklist, say) may be mapped to more than one portrait field of a connection
(issue 14, guardrails); a field is still fed by one property. The unique constraint on (connection, property)
goes; (connection, field) stays.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("field_mappings") as batch:
        batch.drop_constraint("uq_field_mappings_connection_id_property", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("field_mappings") as batch:
        batch.create_unique_constraint("uq_field_mappings_connection_id_property", ["connection_id", "property"])
