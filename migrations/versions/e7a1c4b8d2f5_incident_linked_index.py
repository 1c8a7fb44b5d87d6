"""incident linked index: the records linked to an incident (a D15 to its violation)

An incident's page and the unit's item page list the records linked to it (`linked_id = ?`); without an
index each view read the whole incident table (0.6 s at 1,000,000 incidents on SQLite).

Revision ID: e7a1c4b8d2f5
Revises: b5e1d7c3a9f2
Create Date: 2026-11-30 05:35:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "e7a1c4b8d2f5"
down_revision = "b5e1d7c3a9f2"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch table copy): the table may hold millions of rows.
    op.create_index("ix_incident_linked_id", "incident", ["linked_id"], unique=False)


def downgrade():
    op.drop_index("ix_incident_linked_id", table_name="incident")
