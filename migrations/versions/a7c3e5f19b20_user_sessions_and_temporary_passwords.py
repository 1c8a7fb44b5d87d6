"""user sessions and temporary passwords: session_version, must_change_password

`session_version` is part of what a login session holds: raising it (password changed, user disabled)
ends every session of the user. `must_change_password` marks a password an admin or an import chose.

Revision ID: a7c3e5f19b20
Revises: f3b8d6a2c9e1
Create Date: 2026-11-30 05:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a7c3e5f19b20"
down_revision = "f3b8d6a2c9e1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("session_version")
