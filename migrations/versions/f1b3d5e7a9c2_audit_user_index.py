"""audit user index: the audit log by user (its filter, and which users appear in it)

The audit page lists the users who appear in the log and filters by one; without an index each read the
whole log (0.35 s at 2,000,000 rows on PostgreSQL, seconds on SQLite).

Revision ID: f1b3d5e7a9c2
Revises: e7a1c4b8d2f5
Create Date: 2026-11-30 05:55:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "f1b3d5e7a9c2"
down_revision = "e7a1c4b8d2f5"
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch table copy): the log may hold millions of rows.
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id"], unique=False)


def downgrade():
    op.drop_index("ix_audit_log_user_id", table_name="audit_log")
