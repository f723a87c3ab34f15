"""What every command shares: the consoles, exit codes, error handling and common option texts."""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from scanner.config.framework import load_framework
from scanner.engine.registry import Registry, load_registry
from scanner.errors import GapscanError, InputError, TamperError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_FAIL_ON, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TAMPERED = 4  # gapscan verify: a stored record no longer matches its digest or chain

out = Console()
err = Console(stderr=True, soft_wrap=True)


class CliExit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@contextmanager
def friendly_errors() -> Iterator[None]:
    """User mistakes get one paragraph and exit 2; our bugs get exit 1 (traceback with GAPSCAN_DEBUG=1).

    Messages quote what users wrote and what servers sent (``checks.include[0]``, ``[pdf]``):
    escaped here, once, so rich never reads them as markup."""
    try:
        yield
    except CliExit:
        raise  # a command that chose its exit code (and said why) itself
    except InputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise CliExit(EXIT_INPUT) from exc
    except TamperError as exc:
        err.print(f"[bold red]TAMPERED:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise CliExit(EXIT_TAMPERED) from exc
    except KeyboardInterrupt as exc:
        # Commands that save partial work (scan, rescan) say what they saved themselves.
        err.print("interrupted: nothing was saved")
        raise CliExit(EXIT_INTERRUPTED) from exc
    except GapscanError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise CliExit(EXIT_INTERNAL) from exc
    except Exception as exc:
        if os.environ.get("GAPSCAN_DEBUG"):
            traceback.print_exc()
        err.print(f"[bold red]internal error:[/] {exc.__class__.__name__}: {escape(str(exc))} "
                  "(set GAPSCAN_DEBUG=1 for a traceback)", markup=True, highlight=False)
        raise CliExit(EXIT_INTERNAL) from exc


class Terminated(KeyboardInterrupt):
    """SIGTERM (what systemd sends a rescan unit on stop) or SIGHUP (the terminal went away):
    handled exactly like Ctrl-C, so the results so far are saved and the exit code is 130."""


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise ``Terminated`` (a KeyboardInterrupt) in
    the main thread; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_with(work: Callable[[], int]) -> None:
    try:
        with signals_as_interrupts(), friendly_errors():
            code = work()
    except CliExit as exc:
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)


def _registry() -> Registry:
    return load_registry(load_framework())


DB_HELP = "History database: a SQLAlchemy URL or a SQLite file (default: the XDG data path)"


SIGN_KEY_HELP = "Ed25519 key to sign stored runs with (default: the gapscan keys init file, if it exists)"


CREDENTIALS_OPTION = typer.Option(
    "--credentials", help="Credentials YAML (mode 0600) for endpoint checks; secrets from env/file/prompt")


LISTEN_OPTION = typer.Option("--listen-seconds", min=0, max=3600,
                             help="Passive listening window for LAN-sync announcements (0: do not listen); "
                                  "overrides the profile")
