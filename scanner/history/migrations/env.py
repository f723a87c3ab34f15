"""Alembic environment: always given an open connection by ``scanner.history.store`` (never a URL)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic command line
    raise RuntimeError("gapscan migrations run from scanner.history.store, which passes a connection")

context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
