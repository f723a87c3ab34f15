"""Fleet mode: MSP clients' cadence, sites with their sensor's key, jobs, and the ingest log.

Revision ID: 0005_fleet
Revises: 0004_interviews
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_fleet"
down_revision = "0004_interviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, unique=True),
        sa.Column("cadence_days", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "fleet_sites",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("sensor_public_key", sa.String(64), nullable=False),
        sa.Column("sensor_fingerprint", sa.String(64), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("scope_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("last_heartbeat_at", sa.String(40), nullable=True),
        sa.Column("last_heartbeat_json", sa.Text, nullable=True),
    )
    op.create_table(
        "fleet_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(80), nullable=False, unique=True),
        sa.Column("run_id", sa.String(80), nullable=False, unique=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("fleet_sites.id"), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("scope_json", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "fleet_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("job_id", sa.String(80), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_fleet_events_at", "fleet_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_fleet_events_at", "fleet_events")
    op.drop_table("fleet_events")
    op.drop_table("fleet_jobs")
    op.drop_table("fleet_sites")
    op.drop_table("fleet_clients")
