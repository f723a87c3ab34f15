"""Scheduled rescans: a systemd service + timer pair running ``gapscan rescan``, and a crontab line.

Pure text generation; the CLI writes the files (never over a different existing file) and checks
them with ``systemd-analyze verify`` where it is installed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum

from scanner.errors import InputError


class Every(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Schedule:
    """The generated unit pair and the equivalent crontab line."""

    unit_name: str  # without suffix: gapscan-rescan-<client slug>
    service: str
    timer: str
    crontab: str


def parse_at(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise InputError(f"{value!r} is not a time of day (expected HH:MM, 00:00-23:59)", source="--at")
    return int(match[1]), int(match[2])


def slug(client: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", client.lower()).strip("-")
    if not text:
        raise InputError(f"{client!r} has no letters or digits to name a unit after", source="--client")
    return text[:60]


def _systemd_word(word: str) -> str:
    """One ExecStart argument: double-quoted, with systemd's C escapes and % specifiers escaped."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def build(client: str, every: Every, at: str, argv: list[str]) -> Schedule:
    """``argv``: the full ``gapscan rescan ...`` command line (absolute program path first)."""
    hour, minute = parse_at(at)
    name = f"gapscan-rescan-{slug(client)}"
    calendar = {Every.DAILY: f"*-*-* {hour:02d}:{minute:02d}:00",
                Every.WEEKLY: f"Mon *-*-* {hour:02d}:{minute:02d}:00",
                Every.MONTHLY: f"*-*-01 {hour:02d}:{minute:02d}:00"}[every]
    cron_days = {Every.DAILY: "* * *", Every.WEEKLY: "* * 1", Every.MONTHLY: "1 * *"}[every]
    exec_start = " ".join(_systemd_word(w) for w in argv)
    service = (
        "[Unit]\n"
        f"Description=gapscan {every.value} rescan of {client.replace('%', '%%')}\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_start}\n"
        # exit 3 (--fail-on) is a finding, not a failed unit
        "SuccessExitStatus=3\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=gapscan {every.value} rescan of {client.replace('%', '%%')}\n\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\n"
        "Persistent=true\n"
        f"Unit={name}.service\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    command = " ".join(shlex.quote(w) for w in argv).replace("%", "\\%")  # cron reads % as a newline
    crontab = f"{minute} {hour} {cron_days} {command}"
    return Schedule(unit_name=name, service=service, timer=timer, crontab=crontab)
