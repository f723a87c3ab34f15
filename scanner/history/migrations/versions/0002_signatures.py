"""Ed25519 signatures of runs: the MSP's public keys, and a signature + key per run.

Revision ID: 0002_signatures
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_signatures"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=False),  # raw Ed25519 public key, hex
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("signature", sa.String(128), nullable=True))
        batch.add_column(sa.Column("key_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("key_fingerprint")
        batch.drop_column("signature")
    op.drop_table("signing_keys")
