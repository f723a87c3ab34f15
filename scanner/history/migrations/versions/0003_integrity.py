"""Integrity that does not rest on the database alone: run chain heads (anchored outside the
store), the signature scheme, RFC 3161 timestamp tokens, and key rotation records.

Existing runs get their chain head computed from what they hold now (scanner.history.chain);
runs signed before this revision keep their signatures, marked scheme "run-v1". The new columns
are added, never altered: on SQLite, making one NOT NULL would recreate the runs table, which its
results' foreign keys forbid inside the migration's transaction. Every run written since has a
head; verify reports a run without one.

Revision ID: 0003_integrity
Revises: 0002_signatures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scanner.history.chain import run_body, run_head

revision = "0003_integrity"
down_revision = "0002_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("signature_scheme", sa.String(20), nullable=True))
        batch.add_column(sa.Column("timestamp_token", sa.Text, nullable=True))
        batch.add_column(sa.Column("chain_head", sa.String(64), nullable=True))
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id"), sa.column("client_id"), sa.column("seq"), sa.column("run_id"),
                    sa.column("digest"), sa.column("signature"), sa.column("key_fingerprint"),
                    sa.column("signature_scheme"), sa.column("chain_head"))
    clients = sa.table("clients", sa.column("id"), sa.column("name"))
    for client_id, name in conn.execute(sa.select(clients.c.id, clients.c.name)).all():
        prev_head: str | None = None
        rows = conn.execute(sa.select(runs.c.id, runs.c.seq, runs.c.run_id, runs.c.digest, runs.c.signature,
                                      runs.c.key_fingerprint).where(runs.c.client_id == client_id)
                            .order_by(runs.c.seq)).all()
        for row in rows:
            body = run_body(client=name, seq=row.seq, run_id=row.run_id, digest=row.digest, prev_head=prev_head,
                            token=None)
            head = run_head(body, row.key_fingerprint, row.signature)
            conn.execute(runs.update().where(runs.c.id == row.id).values(
                chain_head=head, signature_scheme="run-v1" if row.signature else None))
            prev_head = head
    op.create_table(
        "key_rotations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("old_fingerprint", sa.String(64), nullable=False),
        sa.Column("old_public_key", sa.String(64), nullable=False),
        sa.Column("new_fingerprint", sa.String(64), nullable=False),
        sa.Column("new_public_key", sa.String(64), nullable=False),
        sa.Column("rotated_at", sa.String(40), nullable=False),
        sa.Column("old_signature", sa.String(128), nullable=False),
        sa.Column("new_signature", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_rotations")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("chain_head")
        batch.drop_column("timestamp_token")
        batch.drop_column("signature_scheme")
