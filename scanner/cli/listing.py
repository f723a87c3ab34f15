"""How list commands print: a table on a terminal, plain tab-separated rows in a pipe, JSON on ask.

rich wraps a table to 80 columns when stdout is not a terminal, so a run id or a check id broke
mid-token and ``gapscan history | grep RUN_ID`` found nothing. In a pipe every row is therefore one
line, columns separated by a tab, after one header line; ``--json`` prints plain JSON (no colour,
no wrapping). Strings that came off the network are printed inert: control characters (ANSI escape
sequences among them) and bidirectional overrides are shown escaped, never interpreted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from scanner.cli.common import out
from scanner.net.text import sanitize


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def cell(value: object) -> str:
    """One value as printable text: escaped control/invisible characters, tabs as spaces."""
    return sanitize(str(value).replace("\t", " "), 10_000)


def emit_rows(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A titled table on a terminal; header + tab-separated rows otherwise."""
    if stdout_is_terminal():
        table = Table(title=escape(title))
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell(v)) for v in row))
        out.print(table)
        return
    lines = ["\t".join(columns), *("\t".join(cell(v) for v in row) for row in rows)]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def emit_json(data: Any) -> None:
    """Plain JSON on stdout (one document, indented, UTF-8 kept)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def emit_line(text: str) -> None:
    """One line of text, never wrapped and never read as markup."""
    out.print(cell(text), highlight=False, soft_wrap=True, markup=False)
