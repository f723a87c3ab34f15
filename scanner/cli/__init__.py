"""The command line: the only place that prints and picks exit codes.

Exit codes: 0 scan completed; 1 internal failure; 2 bad input (the message names what and
where; also an unusable history database); 3 ``--fail-on`` was given and a failed finding is at
or above that severity; 4 ``verify`` found a record that does not match its digest, chain,
signature or an anchor (also: a write refused because the store lost its anchored history);
130 interrupted (results so far are saved with ``complete: false``).

This module creates the typer app and registers the commands, in the order ``gapscan --help``
lists them; each command lives in a small module beside it (``common`` holds the consoles, exit
codes and error handling; ``runs`` the helpers of the commands that scan, render and store runs).
"""

from __future__ import annotations

from typing import Any

import typer

from scanner.cli.catalogue import list_checks, list_profiles, version
from scanner.cli.common import (
    EXIT_FAIL_ON,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TAMPERED,
    CliExit,
    err,
    friendly_errors,
    out,
)
from scanner.cli.decisions import decide, list_decisions
from scanner.cli.fleet import fleet_app, sensor
from scanner.cli.interview import interview_import
from scanner.cli.keys import keys_init, keys_rotate, keys_show
from scanner.cli.recurring import rescan, schedule
from scanner.cli.reporting import report
from scanner.cli.scanning import discover, scan
from scanner.cli.stored import diff, evidence, history, verify
from scanner.cli.storing import store
from scanner.cli.web import web

__all__ = [
    "EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TAMPERED",
    "CliExit", "app", "err", "friendly_errors", "keys_app", "main", "out",
]

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="gapscan: find HIPAA Security Rule gaps in a practice's network and endpoints.")

app.command()(scan)
app.command()(discover)
app.command("checks")(list_checks)
app.command("profiles")(list_profiles)
app.command()(report)
app.command()(store)
app.command()(history)
app.command()(diff)
app.command()(decide)
app.command("decisions")(list_decisions)
app.command()(verify)
app.command()(rescan)
app.command()(evidence)
app.command()(schedule)
app.command()(web)
app.command()(sensor)
app.add_typer(fleet_app, name="fleet")

interview_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                            help="Interview answers (NIST SP 800-66r2 key activities) beside the scans.")
app.add_typer(interview_app, name="interview")
interview_app.command("import")(interview_import)

keys_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The MSP's Ed25519 signing key.")
app.add_typer(keys_app, name="keys")
keys_app.command("init")(keys_init)
keys_app.command("show")(keys_show)
keys_app.command("rotate")(keys_rotate)

app.command()(version)


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)
