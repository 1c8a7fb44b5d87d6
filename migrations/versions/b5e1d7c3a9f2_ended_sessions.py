"""ended sessions: a logged-out session's nonce, refused until it would have expired

Revision ID: b5e1d7c3a9f2
Revises: c8e2f4a6b1d3
Create Date: 2026-11-30 05:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b5e1d7c3a9f2"
down_revision = "c8e2f4a6b1d3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ended_session",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_ended_session_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("nonce", name="pk_ended_session"),
    )
    with op.batch_alter_table("ended_session", schema=None) as batch_op:
        batch_op.create_index("ix_ended_session_ends_at", ["ends_at"], unique=False)


def downgrade():
    with op.batch_alter_table("ended_session", schema=None) as batch_op:
        batch_op.drop_index("ix_ended_session_ends_at")
    op.drop_table("ended_session")
