"""The read-only command allow-list contract between the SSH collector and the platform parsers.

A platform module (``linux.py``, ``macos.py``) declares the exact commands it needs as
``Command`` values; the SSH collector runs only commands so declared (nothing else can reach a
shell), each with a timeout, under ``LC_ALL=C`` so output is parseable, through ``sudo -n`` only
when the command says it needs root *and* the credential allows sudo. The parsers then receive
one ``CommandResult`` per key and stay pure, so every parser is unit-tested on recorded output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scanner.models import utcnow

from .inventory import OUTPUT_CAP, Observation, Unknown

# A command word may contain only these characters: no shell metacharacters can be declared.
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_./:=%,+@-]+$")


@dataclass(frozen=True)
class Command:
    key: str  # what parsers look results up by: "lsblk", "fdesetup"
    argv: tuple[str, ...]
    root: bool = False  # needs root: run via ``sudo -n`` if allowed, else not run (said so)
    prefer_root: bool = False  # sees more as root (other users' homes): via sudo if allowed, else plainly
    shell_free: bool = True  # every word is checked against _SAFE_WORD at definition time

    def __post_init__(self) -> None:
        for word in self.argv:
            if not _SAFE_WORD.match(word):
                raise ValueError(f"command {self.key}: word {word!r} is not allowed in a read-only command")

    def display(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class CommandResult:
    command: Command
    exit_status: int | None  # None when the command was not run or did not finish
    stdout: str = ""
    stderr: str = ""
    collected_at: datetime = field(default_factory=utcnow)
    not_run: str | None = None  # "needs root; sudo not allowed for this credential", "timed out after 20 s"
    via_sudo: bool = False

    @property
    def ok(self) -> bool:
        return self.not_run is None and self.exit_status == 0

    @property
    def not_found(self) -> bool:
        """The shell's 'command not found' (exit 127) — the tool is not installed."""
        return self.exit_status == 127

    def observation(self) -> Observation:
        prefix = "ssh: sudo -n " if self.via_sudo else "ssh: "
        text = self.stdout
        if self.stderr.strip():
            text += ("\n" if text else "") + "[stderr] " + self.stderr
        if self.not_run:
            text = f"[not run: {self.not_run}]"
        return Observation(source=prefix + self.command.display(), output=text[:OUTPUT_CAP],
                           collected_at=self.collected_at, exit_status=self.exit_status)

    def why_failed(self) -> str:
        """One line for an ``error`` detail: why this command gave nothing usable."""
        if self.not_run:
            return f"{self.command.display()}: {self.not_run}"
        if self.not_found:
            return f"{self.command.display()}: command not found on the endpoint"
        first = (self.stderr.strip() or self.stdout.strip()).splitlines()[:1]
        return f"{self.command.display()}: exit status {self.exit_status}" + (f" ({first[0][:160]})" if first else "")


Results = Mapping[str, CommandResult]


def need(results: Results, key: str) -> CommandResult:
    """The result for ``key``, raising ``Unknown`` with the reason when it is not usable."""
    result = results.get(key)
    if result is None:
        raise Unknown(f"{key}: not collected")
    if not result.ok:
        raise Unknown(result.why_failed())
    return result
