"""gapscan checks, gapscan profiles and gapscan version: what is installed."""

from __future__ import annotations

from typing import Annotated

import typer

from scanner import __version__
from scanner.cli.common import EXIT_OK, _exit_with, _registry, out
from scanner.cli.listing import emit_json, emit_rows
from scanner.config.profiles import load_profile, shipped_profiles

JSON_OPTION = typer.Option("--json", help="Print as JSON")


def list_checks(as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List installed checks with their severity and HIPAA citations."""

    def work() -> int:
        checks = list(_registry())
        if as_json:
            emit_json([{"id": c.id, "title": c.meta.title, "severity": c.meta.severity.value,
                        "intrusive": c.meta.intrusive, "hipaa": list(c.hipaa)} for c in checks])
            return EXIT_OK
        emit_rows("gapscan checks", ("id", "title", "severity", "intrusive", "HIPAA"),
                  [(c.id, c.meta.title, c.meta.severity.value, "yes" if c.meta.intrusive else "no",
                    ", ".join(c.hipaa) or "(unmapped)") for c in checks])
        return EXIT_OK

    _exit_with(work)


def list_profiles(as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List shipped profiles."""

    def work() -> int:
        registry = _registry()
        loaded = {name: load_profile(name, registry) for name in shipped_profiles()}
        if as_json:
            emit_json([{"name": name, "checks": sorted(p.check_ids), "intrusive": p.profile.intrusive,
                        "description": p.profile.description} for name, p in loaded.items()])
            return EXIT_OK
        emit_rows("gapscan profiles", ("name", "checks", "intrusive", "description"),
                  [(name, len(p.check_ids), "yes" if p.profile.intrusive else "no", p.profile.description)
                   for name, p in loaded.items()])
        return EXIT_OK

    _exit_with(work)


def version() -> None:
    """Print the version."""
    out.print(f"gapscan {__version__}")
