"""notices that need an answer (书面通报并要求反馈) and their answers' attachments

Revision ID: e4a7c2b9d1f6
Revises: d0c5a1e8f3b7
Create Date: 2026-11-30 02:30:00

"""

import sqlalchemy as sa
from alembic import op

import models.base

# revision identifiers, used by Alembic.
revision = "e4a7c2b9d1f6"
down_revision = "d0c5a1e8f3b7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=24), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("read_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("read_by_id", sa.Integer(), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answered_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_late", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_notice_unit_id_unit")),
        sa.ForeignKeyConstraint(["read_by_id"], ["user.id"], name=op.f("fk_notice_read_by_id_user")),
        sa.ForeignKeyConstraint(["answered_by_id"], ["user.id"], name=op.f("fk_notice_answered_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("unit_id", "year", "month", "flag", name="uq_notice_unit_month_flag"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index("ix_notice_year_month", ["year", "month"], unique=False)
    op.create_table(
        "notice_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_attachment_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user.id"], name=op.f("fk_notice_attachment_uploaded_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_attachment")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_notice_attachment_stored_name")),
    )
    with op.batch_alter_table("notice_attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_attachment_notice_id"), ["notice_id"], unique=False)


def downgrade():
    with op.batch_alter_table("notice_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_attachment_notice_id"))
    op.drop_table("notice_attachment")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_year_month")
        batch_op.drop_index(batch_op.f("ix_notice_unit_id"))
    op.drop_table("notice")
