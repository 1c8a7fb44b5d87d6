"""month.snapshot moved to the last column: on SQLite, reading any column after a large value walks that
value's overflow pages, so listing 60 months' close times read 500 MB of frozen standings (31 ms a query)

Revision ID: a8d2f6c4e0b7
Revises: e6b8c0d2f4a1
Create Date: 2026-11-30 08:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a8d2f6c4e0b7"
down_revision = "e6b8c0d2f4a1"
branch_labels = None
depends_on = None


def _move_last(column: str) -> None:
    """Re-add `column` at the end of month, with its values: plain ALTER TABLE statements, which both
    SQLite (3.35 and newer) and PostgreSQL run without rebuilding the table or its foreign keys."""
    op.add_column("month", sa.Column("moving", sa.JSON(), nullable=True))
    op.execute(f"UPDATE month SET moving = {column}")
    op.execute(f"ALTER TABLE month DROP COLUMN {column}")
    op.execute(f"ALTER TABLE month RENAME COLUMN moving TO {column}")


def upgrade():
    _move_last("snapshot")


def downgrade():
    pass  # the column's place is no part of the schema's meaning: nothing to undo
