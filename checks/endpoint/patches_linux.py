"""Linux patch state: pending updates from the package manager's local lists, and the last install.

Debian/Ubuntu (apt): ``apt-get -s dist-upgrade`` simulates the upgrade from the lists already on
the endpoint (nothing is downloaded or locked: ``-s`` with ``Debug::NoLocking``). Each ``Inst``
line names the archives offering the new version as ``Label:Version/Suite``; an update from a
``*-security`` suite (Debian-Security, Ubuntu's ``jammy-security``) is a security update. apt's
lists do not say when an update was published, so its age is not known; the last install is the
newest ``Start-Date`` of an Install/Upgrade entry in /var/log/apt/history.log (local time).

Fedora/RHEL (dnf, from recordings): ``dnf -C updateinfo list --security`` (advisory, severity,
package) and ``dnf -C updateinfo info --security`` (each advisory's Issued/Updated date), both from
the cache only (``-C``: no repository is contacted); the last install from ``rpm -qa --last``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .backup_common import endpoint_offset, local_time
from .commands import Command, Results
from .inventory import Observation, Patches, PendingUpdate, Unknown

APT_SIMULATE = Command("apt_simulate", ("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"))
APT_HISTORY = Command("apt_history", ("cat", "/var/log/apt/history.log"))
DNF_LIST = Command("dnf_security", ("dnf", "-q", "-C", "updateinfo", "list", "--security"))
DNF_INFO = Command("dnf_security_info", ("dnf", "-q", "-C", "updateinfo", "info", "--security"))
RPM_LAST = Command("rpm_last", ("rpm", "-qa", "--last"))
COMMANDS: tuple[Command, ...] = (APT_SIMULATE, APT_HISTORY, DNF_LIST, DNF_INFO, RPM_LAST)

_INST = re.compile(r"^Inst (\S+)(?: \[([^\]]+)\])? \((\S+) (.+?)(?: \[[^\]]+\])?\)", re.M)
_START = re.compile(r"^Start-Date: (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d)$", re.M)


def parse_patches(results: Results) -> Patches:
    apt = results.get("apt_simulate")
    if apt is not None and not apt.not_found and apt.not_run is None:
        return _apt(results)
    dnf = results.get("dnf_security")
    if dnf is not None and not dnf.not_found and dnf.not_run is None:
        return _dnf(results)
    why = "; ".join(r.why_failed() for r in (apt, dnf) if r is not None) or "not collected"
    raise Unknown(f"no package manager this collector reads (apt, dnf): {why}")


def is_security_origin(origin: str) -> bool:
    """Debian "Debian-Security:12/stable-security", Ubuntu "Ubuntu:22.04/jammy-security"."""
    return any(part.strip().split("/")[-1].endswith("-security") or part.strip().split(":")[0].endswith("-Security")
               for part in origin.split(","))


def _apt(results: Results) -> Patches:
    sim = results["apt_simulate"]
    observations: list[Observation] = [sim.observation()]
    if not sim.ok:
        raise Unknown(sim.why_failed())
    if "Reading package lists" not in sim.stdout:
        raise Unknown("apt-get -s printed no 'Reading package lists' line: output this parser does not read")
    pending = tuple(PendingUpdate(package=m.group(1), installed=m.group(2), available=m.group(3),
                                  origin=m.group(4).strip(), security=is_security_origin(m.group(4)))
                    for m in _INST.finditer(sim.stdout))
    if not pending and not re.search(r"^0 upgraded, 0 newly installed", sim.stdout, re.M):
        raise Unknown("apt-get -s listed no Inst line and no '0 upgraded' summary")
    history = results.get("apt_history")
    last: datetime | None = None
    note = ""
    if history is not None:
        observations.append(history.observation())
        if history.ok:
            last, note = _last_apt_install(history.stdout, results)
        else:
            note = f"apt history not read: {history.why_failed()}"
    return Patches(source="apt", pending=pending, observations=tuple(observations), last_install=last,
                   last_install_note=note)


def _last_apt_install(text: str, results: Results) -> tuple[datetime | None, str]:
    offset = endpoint_offset(results)
    newest: datetime | None = None
    for block in re.split(r"\n\s*\n", text):
        start = _START.search(block)
        if start is None or not re.search(r"^(Install|Upgrade): ", block, re.M):
            continue
        when = local_time(start.group(1), offset)
        if when is None:
            return None, "history.log times are local and the endpoint's UTC offset was not read"
        newest = when if newest is None or when > newest else newest
    if newest is None:
        return None, "/var/log/apt/history.log lists no install or upgrade (rotated logs are not read)"
    return newest, "newest Install/Upgrade entry in /var/log/apt/history.log"


def _dnf(results: Results) -> Patches:
    listed = results["dnf_security"]
    observations = [listed.observation()]
    if not listed.ok:
        raise Unknown(listed.why_failed())
    info = results.get("dnf_security_info")
    issued: dict[str, datetime] = {}
    if info is not None:
        observations.append(info.observation())
        if info.ok:
            issued = _dnf_issued(info.stdout)
    pending = []
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) != 3 or "/" not in parts[1]:
            continue
        advisory, kind, package = parts
        severity, _, sec = kind.partition("/")
        if not sec.startswith("Sec"):
            continue
        name, _, version = _split_nevra(package)
        pending.append(PendingUpdate(package=name, available=version, security=True,
                                     severity=None if severity in ("None", "Unknown") else severity,
                                     origin=advisory, published=issued.get(advisory)))
    last, note = _rpm_last(results, observations)
    return Patches(source="dnf", pending=tuple(pending), observations=tuple(observations), last_install=last,
                   last_install_note=note)


def _split_nevra(nevra: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"(.+)-((?:\d+:)?[^-]+-[^-]+)\.([^.]+)", nevra)
    return (match.group(1), "", match.group(2)) if match else (nevra, "", "")


def _dnf_issued(text: str) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    current = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Update ID":
            current = value
        elif key in ("Issued", "Updated") and current and current not in out:
            try:
                out[current] = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                continue
    return out


def _rpm_last(results: Results, observations: list[Observation]) -> tuple[datetime | None, str]:
    rpm = results.get("rpm_last")
    if rpm is None or not rpm.ok:
        return None, rpm.why_failed() if rpm is not None else "rpm -qa --last not collected"
    observations.append(rpm.observation())
    first = rpm.stdout.splitlines()[:1]
    match = re.search(r"\s{2,}(\w{3} \d\d \w{3} \d{4} \d\d:\d\d:\d\d (?:AM|PM)) (\w+)$", first[0]) if first else None
    if match is None:
        return None, "rpm -qa --last: first line not in the C locale's format"
    when = datetime.strptime(match.group(1), "%a %d %b %Y %I:%M:%S %p")
    if match.group(2) != "UTC":
        return None, f"rpm install time in zone {match.group(2)}: not converted"
    return when.replace(tzinfo=UTC), "newest package by install time (rpm -qa --last)"
