"""incident list indexes: a month's incidents by time, and one unit's by time

The incidents list pages a month in the database, newest first: (occurred_at, id) gives the month's range
already in the list's order, so a page reads only its own rows; (unit_id, occurred_at) does the same for
the list filtered by unit.

Revision ID: 4b9b28795c43
Revises: 9f4488203c8e
Create Date: 2026-11-30 02:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "4b9b28795c43"
down_revision = "9f4488203c8e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_occurred_id", ["occurred_at", "id"], unique=False)
        batch_op.create_index("ix_incident_unit_occurred", ["unit_id", "occurred_at"], unique=False)


def downgrade():
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_unit_occurred")
        batch_op.drop_index("ix_incident_occurred_id")
