"""The scope file (``--scope-file``): the targets a technician was authorized to scan, one a line."""

from __future__ import annotations

from pathlib import Path

from scanner.config.userfiles import read_user_text
from scanner.errors import InputError
from scanner.scope.targets import parse_entry


def load_scope_file(path: Path) -> tuple[list[str], list[str], str | None]:
    """A scope file: one target per line, ``!`` or ``exclude`` prefix for exclusions, ``#`` comments,
    and an optional ``authorized-by: NAME`` line. Returns (targets, exclusions, authorized_by)."""
    text = read_user_text(path, "scope file")
    targets: list[str] = []
    exclusions: list[str] = []
    authorized_by: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        lower = line.lower()
        if lower.startswith("authorized-by:"):
            authorized_by = line.split(":", 1)[1].strip() or None
            continue
        if line.startswith("!"):
            value = line[1:].strip()
            bucket = exclusions
        elif lower.startswith("exclude "):
            value = line[8:].strip()
            bucket = exclusions
        else:
            value = line
            bucket = targets
        try:
            parse_entry(value)
        except ValueError as exc:
            raise InputError(str(exc), source=str(path), where=f"line {lineno} ({value!r})") from exc
        bucket.append(value)
    if not targets:
        raise InputError("no targets in scope file", source=str(path))
    return targets, exclusions, authorized_by
