"""appeals, rectification reports and extension requests, bonus claims, and their files; the shipped
rulebook's stored copy learns which bonuses units may claim (its `claimable` rules)

Revision ID: f5b8d3c1a2e9
Revises: e4a7c2b9d1f6
Create Date: 2026-11-30 02:40:00

"""

from alembic import op
import sqlalchemy as sa

import models.base

# revision identifiers, used by Alembic.
revision = "f5b8d3c1a2e9"
down_revision = "e4a7c2b9d1f6"
branch_labels = None
depends_on = None


def _decided_columns():
    return [
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("submitted_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
    ]


def _decided_constraints(table):
    return [
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user.id"], name=f"fk_{table}_submitted_by_id_user"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user.id"], name=f"fk_{table}_decided_by_id_user"),
    ]


def upgrade():
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        *_decided_columns(),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], name="fk_appeal_incident_id_incident"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_appeal_unit_id_unit"),
        *_decided_constraints("appeal"),
        sa.PrimaryKeyConstraint("id", name="pk_appeal"),
    )
    op.create_table(
        "rectification_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("rectified_on", sa.Date(), nullable=True),
        sa.Column("requested_deadline", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("confirmed_on", sa.Date(), nullable=True),
        *_decided_columns(),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name="fk_rectification_report_incident_id_incident"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_rectification_report_unit_id_unit"),
        *_decided_constraints("rectification_report"),
        sa.PrimaryKeyConstraint("id", name="pk_rectification_report"),
    )
    op.create_table(
        "bonus_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        *_decided_columns(),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_bonus_claim_unit_id_unit"),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], name="fk_bonus_claim_incident_id_incident"),
        *_decided_constraints("bonus_claim"),
        sa.PrimaryKeyConstraint("id", name="pk_bonus_claim"),
    )
    for table in ("appeal", "rectification_report", "bonus_claim"):
        with op.batch_alter_table(table) as batch:
            batch.create_index(f"ix_{table}_status", ["status"], unique=False)
            batch.create_index(f"ix_{table}_unit_id", ["unit_id"], unique=False)
            if table != "bonus_claim":
                batch.create_index(f"ix_{table}_incident_id", ["incident_id"], unique=False)
    op.create_table(
        "request_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_request_file_unit_id_unit"),
        sa.ForeignKeyConstraint(["appeal_id"], ["appeal.id"], name="fk_request_file_appeal_id_appeal"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["rectification_report.id"], name="fk_request_file_report_id_rectification_report"
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["bonus_claim.id"], name="fk_request_file_claim_id_bonus_claim"
        ),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["user.id"], name="fk_request_file_uploaded_by_id_user"),
        sa.PrimaryKeyConstraint("id", name="pk_request_file"),
        sa.UniqueConstraint("stored_name", name="uq_request_file_stored_name"),
    )
    with op.batch_alter_table("request_file") as batch:
        for column in ("unit_id", "appeal_id", "report_id", "claim_id"):
            batch.create_index(f"ix_request_file_{column}", [column], unique=False)
    _mark_claimable()


def _mark_claimable():
    """The stored copy of the shipped rulebook gets the shipped file's `claimable` marks (and the new
    settings' values): a version is data, and a database loaded before this revision holds the old copy."""
    from scoring import default_rulebook_path, load_rulebook

    shipped = load_rulebook(default_rulebook_path())
    claimable = {r.code for r in shipped.rules if r.claimable}
    table = sa.table(
        "rulebook_version", sa.column("id", sa.Integer), sa.column("key"), sa.column("data", sa.JSON)
    )
    conn = op.get_bind()
    for row_id, data in conn.execute(sa.select(table.c.id, table.c.data).where(table.c.key == shipped.key)):
        if not isinstance(data, dict):
            continue
        rules = [
            {**r, "claimable": r.get("code") in claimable} if isinstance(r, dict) else r
            for r in data.get("rules", [])
        ]
        settings = dict(data.get("settings") or {})
        settings.setdefault(
            "rectification_extension_allowed", shipped.settings.rectification_extension_allowed
        )
        conn.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(data={**data, "rules": rules, "settings": settings})
        )


def downgrade():
    op.drop_table("request_file")
    op.drop_table("bonus_claim")
    op.drop_table("rectification_report")
    op.drop_table("appeal")
