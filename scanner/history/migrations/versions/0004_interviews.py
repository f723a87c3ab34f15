"""Interview answers (NIST SP 800-66r2 key activities) and the owner's signed decision sheets.

Revision ID: 0004_interviews
Revises: 0003_integrity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_interviews"
down_revision = "0003_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interview_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("key_activity", sa.String(40), nullable=False),
        sa.Column("answer", sa.String(20), nullable=False),
        sa.Column("answered_by", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("evidence_ref", sa.String(500), nullable=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("answered_at", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=True),
        sa.UniqueConstraint("client_id", "seq", name="uq_interview_answers_client_seq"),
    )
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("scan_digest", sa.String(64), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signer_role", sa.String(200), nullable=False),
        sa.Column("signature_kind", sa.String(10), nullable=False),
        sa.Column("signature_png", sa.LargeBinary, nullable=True),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("sheet_json", sa.Text, nullable=False),
        sa.Column("decision_digests", sa.Text, nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=True),
        sa.Column("record_pdf", sa.LargeBinary, nullable=True),
        sa.UniqueConstraint("client_id", "seq", name="uq_signoffs_client_seq"),
    )


def downgrade() -> None:
    op.drop_table("signoffs")
    op.drop_table("interview_answers")
