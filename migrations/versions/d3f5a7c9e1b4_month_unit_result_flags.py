"""month unit results: each unit's flag codes, so the letters list reads no snapshot

Revision ID: d3f5a7c9e1b4
Revises: f1b3d5e7a9c2
Create Date: 2026-11-30 06:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d3f5a7c9e1b4"
down_revision = "f1b3d5e7a9c2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("month_unit_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.String(length=200), nullable=False, server_default=""))
    month = sa.table("month", sa.column("id", sa.Integer), sa.column("snapshot", sa.JSON))
    results = sa.table(
        "month_unit_result",
        sa.column("month_id", sa.Integer),
        sa.column("unit_code", sa.String),
        sa.column("flags", sa.String),
    )
    bind = op.get_bind()
    for month_id, snapshot in bind.execute(sa.select(month.c.id, month.c.snapshot)):
        for u in (snapshot or {}).get("units", []):
            codes = " ".join(sorted({f["code"] for f in u.get("flags", [])}))
            if codes:
                bind.execute(
                    results.update()
                    .where(results.c.month_id == month_id, results.c.unit_code == u["code"])
                    .values(flags=codes)
                )


def downgrade():
    with op.batch_alter_table("month_unit_result", schema=None) as batch_op:
        batch_op.drop_column("flags")
