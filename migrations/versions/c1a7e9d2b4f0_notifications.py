"""notifications: the units' portal inbox, per-user read state, bulletin read receipts

Revision ID: c1a7e9d2b4f0
Revises: 4b9b28795c43
Create Date: 2026-11-30 02:20:00

"""

import sqlalchemy as sa
from alembic import op

import models.base

# revision identifiers, used by Alembic.
revision = "c1a7e9d2b4f0"
down_revision = "4b9b28795c43"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_notification_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("unit_id", "key", name="uq_notification_unit_key"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_unit_created", ["unit_id", "created_at", "id"], unique=False)

    op.create_table(
        "notification_read",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_read_notification_id_notification"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_notification_read_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_read")),
        sa.UniqueConstraint("notification_id", "user_id", name="uq_notification_read_user"),
    )
    with op.batch_alter_table("notification_read", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_read_user_id"), ["user_id"], unique=False)

    op.create_table(
        "bulletin_read",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("read_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["month_id"], ["month.id"], name=op.f("fk_bulletin_read_month_id_month")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_bulletin_read_unit_id_unit")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_bulletin_read_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin_read")),
        sa.UniqueConstraint("month_id", "unit_id", name="uq_bulletin_read_month_unit"),
    )


def downgrade():
    op.drop_table("bulletin_read")
    with op.batch_alter_table("notification_read", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_read_user_id"))
    op.drop_table("notification_read")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_unit_created")
    op.drop_table("notification")
