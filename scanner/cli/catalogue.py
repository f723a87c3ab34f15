"""gapscan checks, gapscan profiles and gapscan version: what is installed."""

from __future__ import annotations

from rich.table import Table

from scanner import __version__
from scanner.cli.common import EXIT_OK, _exit_with, _registry, out
from scanner.config.profiles import load_profile, shipped_profiles


def list_checks() -> None:
    """List installed checks with their severity and HIPAA citations."""

    def work() -> int:
        table = Table(title="gapscan checks")
        for col in ("id", "title", "severity", "intrusive", "HIPAA"):
            table.add_column(col, overflow="fold")
        for check in _registry():
            table.add_row(check.id, check.meta.title, check.meta.severity.value,
                          "yes" if check.meta.intrusive else "no", ", ".join(check.hipaa) or "(unmapped)")
        out.print(table)
        return EXIT_OK

    _exit_with(work)


def list_profiles() -> None:
    """List shipped profiles."""

    def work() -> int:
        registry = _registry()
        table = Table(title="gapscan profiles")
        for col in ("name", "checks", "intrusive", "description"):
            table.add_column(col, overflow="fold")
        for name in shipped_profiles():
            loaded = load_profile(name, registry)
            table.add_row(name, str(len(loaded.check_ids)), "yes" if loaded.profile.intrusive else "no",
                          loaded.profile.description)
        out.print(table)
        return EXIT_OK

    _exit_with(work)


def version() -> None:
    """Print the version."""
    out.print(f"gapscan {__version__}")
