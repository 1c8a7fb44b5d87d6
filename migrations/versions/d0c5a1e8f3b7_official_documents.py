"""official documents: the per-year 文号 counter and the numbers given to issued documents

Revision ID: d0c5a1e8f3b7
Revises: c1a7e9d2b4f0
Create Date: 2026-11-30 02:20:00

"""

import sqlalchemy as sa
from alembic import op

import models.base

# revision identifiers, used by Alembic.
revision = "d0c5a1e8f3b7"
down_revision = "c1a7e9d2b4f0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "document_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_document_counter")),
    )
    op.create_table(
        "issued_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=96), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_document")),
        sa.UniqueConstraint("key", name=op.f("uq_issued_document_key")),
        sa.UniqueConstraint("year", "seq", name=op.f("uq_issued_document_year")),
    )


def downgrade():
    op.drop_table("issued_document")
    op.drop_table("document_counter")
