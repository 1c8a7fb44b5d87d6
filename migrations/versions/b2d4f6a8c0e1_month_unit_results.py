"""month unit results: one row per unit of each frozen month's snapshot; incident (rule_code, deadline)

The live standings read the grades of the year's earlier months from these rows (replace_staff) instead of
the snapshots. Existing snapshots are copied in. The index finds a month's overdue D19a by deadline.

Revision ID: b2d4f6a8c0e1
Revises: a7c3e5f19b20
Create Date: 2026-11-30 05:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b2d4f6a8c0e1"
down_revision = "a7c3e5f19b20"
branch_labels = None
depends_on = None


def upgrade():
    results = op.create_table(
        "month_unit_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("deductions", sa.Integer(), nullable=False),
        sa.Column("bonus", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["month_id"], ["month.id"], name=op.f("fk_month_unit_result_month_id_month")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_unit_result")),
    )
    with op.batch_alter_table("month_unit_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_month_unit_result_month_id"), ["month_id"], unique=False)

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_rule_deadline", ["rule_code", "deadline"], unique=False)

    month = sa.table("month", sa.column("id", sa.Integer), sa.column("snapshot", sa.JSON))
    bind = op.get_bind()
    rows = [
        {
            "month_id": month_id,
            "unit_code": u["code"],
            "rank": u["rank"],
            "score": u["score"],
            "deductions": u["deductions"],
            "bonus": u["bonus"],
            "grade": u["grade"],
        }
        for month_id, snapshot in bind.execute(sa.select(month.c.id, month.c.snapshot))
        for u in (snapshot or {}).get("units", [])
    ]
    if rows:
        op.bulk_insert(results, rows)


def downgrade():
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_rule_deadline")
    with op.batch_alter_table("month_unit_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_month_unit_result_month_id"))
    op.drop_table("month_unit_result")
