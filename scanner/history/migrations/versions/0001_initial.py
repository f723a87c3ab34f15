"""History store: clients, runs (hash-chained), results by fingerprint, decisions (chained).

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(80), nullable=False, unique=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("stored_at", sa.String(40), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("complete", sa.Integer, nullable=False),
        sa.Column("scope_json", sa.Text, nullable=False),
        sa.Column("scan_json", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=True),
        sa.UniqueConstraint("client_id", "seq", name="uq_runs_client_seq"),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("result_json", sa.Text, nullable=False),
    )
    op.create_index("ix_results_run_fingerprint", "results", ["run_pk", "fingerprint"])
    op.create_index("ix_results_fingerprint", "results", ["fingerprint"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("until", sa.String(10), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=True),
        sa.UniqueConstraint("client_id", "seq", name="uq_decisions_client_seq"),
    )


def downgrade() -> None:
    for name in ("decisions", "results", "runs", "clients"):
        op.drop_table(name)
