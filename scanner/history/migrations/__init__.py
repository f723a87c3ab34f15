"""Alembic migration environment of the history store, run programmatically on open."""
