"""month.snapshot_key: a random version of the frozen standings, the key of their decoded copy in memory

Revision ID: e6b8c0d2f4a1
Revises: d3f5a7c9e1b4
Create Date: 2026-11-30 06:50:00

"""

import uuid

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e6b8c0d2f4a1"
down_revision = "d3f5a7c9e1b4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("month", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot_key", sa.String(length=32), nullable=True))
    month = sa.table("month", sa.column("id", sa.Integer), sa.column("snapshot_key", sa.String))
    bind = op.get_bind()
    frozen = bind.execute(sa.text("SELECT id FROM month WHERE snapshot IS NOT NULL")).scalars().all()
    for month_id in frozen:
        bind.execute(month.update().where(month.c.id == month_id).values(snapshot_key=uuid.uuid4().hex))


def downgrade():
    with op.batch_alter_table("month", schema=None) as batch_op:
        batch_op.drop_column("snapshot_key")
