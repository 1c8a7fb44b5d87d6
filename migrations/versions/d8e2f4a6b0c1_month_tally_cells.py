"""month tally cells: each frozen month's per-staff and per-window tally cells, kept when it is closed

The tallies of a year of closed months were summed again from all its incidents after every audited change
(1.2 s on a hall of 1,000,000 incidents). Months closed before this revision get no cells here (making them
needs the scoring and the rulebooks, not a migration's SQL): their tallies are summed as before until they
are closed again, or until `services.months.keep_missing_tally_cells()` is run.

Revision ID: d8e2f4a6b0c1
Revises: c4f6b8d0e2a3
Create Date: 2026-11-30 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d8e2f4a6b0c1"
down_revision = "c4f6b8d0e2a3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "month_tally_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("staff_pk", sa.Integer(), nullable=True),
        sa.Column("window", sa.String(length=20), nullable=True),
        sa.Column("posted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("roster_key", sa.String(length=32), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["month_id"],
            ["month.id"],
            name=op.f("fk_month_tally_cell_month_id_month"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_tally_cell")),
    )
    with op.batch_alter_table("month_tally_cell", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_month_tally_cell_month_id"), ["month_id"], unique=False)


def downgrade():
    with op.batch_alter_table("month_tally_cell", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_month_tally_cell_month_id"))
    op.drop_table("month_tally_cell")
