"""kiosk screens registered by an admin: a hashed token per screen, its orientation, who registered it

Screens used to name themselves in the URL and were written on their first poll, so anyone could add rows.
Now only an admin registers a screen (and gets its URL with a random token); rows written by the old
self-naming have no token and are removed: those screens keep showing the public page, unregistered.

Revision ID: c8e2f4a6b1d3
Revises: b2d4f6a8c0e1
Create Date: 2026-11-30 05:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c8e2f4a6b1d3"
down_revision = "b2d4f6a8c0e1"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text("DELETE FROM kiosk_screen"))  # self-named rows: no token, nobody registered them
    with op.batch_alter_table("kiosk_screen", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("orientation", sa.String(length=16), server_default="landscape", nullable=False)
        )
        batch_op.add_column(sa.Column("registered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("registered_by_id", sa.Integer(), nullable=True))
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_kiosk_screen_token_hash"), ["token_hash"])
        batch_op.create_foreign_key(
            batch_op.f("fk_kiosk_screen_registered_by_id_user"), "user", ["registered_by_id"], ["id"]
        )


def downgrade():
    op.execute(sa.text("DELETE FROM kiosk_screen"))
    with op.batch_alter_table("kiosk_screen", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_kiosk_screen_registered_by_id_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_kiosk_screen_token_hash"), type_="unique")
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column("registered_by_id")
        batch_op.drop_column("registered_at")
        batch_op.drop_column("orientation")
        batch_op.drop_column("token_hash")
