"""honor rolls: the chosen quarter's advanced collectives and individuals, the year's excellent window units

Revision ID: f3b8d6a2c9e1
Revises: f5b8d3c1a2e9
Create Date: 2026-11-30 02:40:00

"""

import sqlalchemy as sa
from alembic import op

import models.base

# revision identifiers, used by Alembic.
revision = "f3b8d6a2c9e1"
down_revision = "f5b8d3c1a2e9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "honor_roll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("published_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("unpublished_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("unpublish_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["user.id"], name=op.f("fk_honor_roll_published_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_honor_roll")),
        sa.UniqueConstraint("kind", "year", "quarter", name="uq_honor_roll_period"),
    )
    op.create_table(
        "honor_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("roll_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("staff_pk", sa.Integer(), nullable=True),
        sa.Column("window", sa.String(length=20), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["roll_id"], ["honor_roll.id"], name=op.f("fk_honor_entry_roll_id_honor_roll")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_honor_entry_unit_id_unit")),
        sa.ForeignKeyConstraint(["staff_pk"], ["staff.id"], name=op.f("fk_honor_entry_staff_pk_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_honor_entry")),
    )
    with op.batch_alter_table("honor_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_honor_entry_roll_id"), ["roll_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_honor_entry_unit_id"), ["unit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("honor_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_honor_entry_unit_id"))
        batch_op.drop_index(batch_op.f("ix_honor_entry_roll_id"))
    op.drop_table("honor_entry")
    op.drop_table("honor_roll")
