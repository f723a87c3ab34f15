"""Windows backups, updates and installed programs from the registry and WMI (pure parsers).

- File History: ``HKU\\<SID>\\Software\\Microsoft\\Windows\\CurrentVersion\\FileHistory``
  ``ProtectedUpToTime`` (a FILETIME: files changed before it are in the backup), per loaded user
  hive. The target drive is kept in the user's File History configuration file, not the registry,
  so its BitLocker To Go state cannot be matched to it: encryption stays unknown.
- Veeam Agent for Microsoft Windows: its Uninstall entry; its sessions are in its own database,
  which the registry does not show (last backup unknown).
- Windows Server Backup: not read (no registry or WMI location we could verify for its schedule).
- Updates: ``Win32_QuickFixEngineering`` InstalledOn (M/D/YYYY) per hotfix and the Windows Update
  result keys ``...\\WindowsUpdate\\Auto Update\\Results\\{Detect,Install}`` LastSuccessTime (UTC
  text, older Windows releases). Pending updates cannot be listed remotely: only the time of the
  last install is judged.
- Programs: the Uninstall keys' DisplayName and DisplayVersion (machine, WOW6432Node, user hives).
Formats and their sources: tests/fixtures/endpoint/windows/README.md.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta

from ..inventory import BackupJob, Backups, Observation, Patches, Software, SoftwareItem, Unknown
from .records import RegistrySnapshot, WmiResult, as_int
from .syncclients import uninstall_roots

FILE_HISTORY = "Software\\Microsoft\\Windows\\CurrentVersion\\FileHistory"
WU_RESULTS = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\Results"
WU_KEYS = (f"{WU_RESULTS}\\Install", f"{WU_RESULTS}\\Detect")
QFE_QUERY = "SELECT HotFixID, Description, InstalledOn FROM Win32_QuickFixEngineering"
UNINSTALL_VALUES = ("DisplayName", "DisplayVersion")
VEEAM = re.compile(r"(?i)^Veeam Agent for (Microsoft )?Windows")
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(value: object) -> datetime | None:
    """A REG_QWORD FILETIME, or REG_BINARY "hex:" of 8 little-endian bytes, as UTC."""
    raw = as_int(value)
    if raw is None and isinstance(value, str) and value.startswith("hex:") and len(value) == 20:
        raw = int.from_bytes(bytes.fromhex(value[4:]), "little")
    if not raw:
        return None
    return FILETIME_EPOCH + timedelta(microseconds=raw // 10)


def file_history_keys(sids: list[str]) -> list[str]:
    return [f"HKU\\{sid}\\{FILE_HISTORY}" for sid in sids]


def _programs(reg: RegistrySnapshot) -> tuple[list[SoftwareItem], list[str]]:
    items, unreadable = [], []
    for root in uninstall_roots(reg.user_sids()):
        if reg.error(root):
            unreadable.append(f"{root} ({reg.error(root)})")
        for key in reg.subkeys(root):
            name = reg.value(key, "DisplayName")
            if isinstance(name, str) and name.strip():
                version = reg.value(key, "DisplayVersion")
                items.append(SoftwareItem(name=name.strip(), version=str(version).strip() if version else "",
                                          source="Uninstall key"))
    return items, unreadable


def backups_from(reg: RegistrySnapshot) -> Backups:
    jobs: list[BackupJob] = []
    observations: list[Observation] = []
    for key in file_history_keys(reg.user_sids()):
        observations.append(reg.observe(key, "ProtectedUpToTime"))
        when = filetime(reg.value(key, "ProtectedUpToTime"))
        if reg.has_key(key) and when is not None:
            jobs.append(BackupJob(tool="File History", destination=f"File History drive of {key.split(chr(92))[1]}",
                                  encrypted=None, encryption_note="the File History target drive is named in the "
                                  "user's File History configuration, not the registry: its BitLocker To Go state "
                                  "cannot be matched", last_success=when,
                                  last_note="FileHistory ProtectedUpToTime", scheduled="File History"))
    programs, unreadable = _programs(reg)
    for item in programs:
        if VEEAM.match(item.name):
            jobs.append(BackupJob(tool=item.name, destination="(in Veeam's configuration database)", encrypted=None,
                                  encryption_note="Veeam keeps job settings in its own database",
                                  time_unknown="Veeam keeps its sessions in its own database, not in the registry"))
    machine = uninstall_roots([])[0]
    observations.append(Observation(source=f"registry: {machine} (and WOW6432Node, user hives)",
                                    output=f"{len(programs)} programs; Veeam Agent: "
                                           f"{'yes' if any(VEEAM.match(p.name) for p in programs) else 'no'}",
                                    collected_at=reg.collected_at))
    if unreadable and not jobs:
        return Backups(jobs=(), observations=tuple(observations), unknown="not readable: " + "; ".join(unreadable))
    if not reg.has_key(machine):
        return Backups(jobs=(), observations=tuple(observations),
                       unknown=f"{machine} does not exist: not a Windows registry, nothing to judge")
    if not reg.user_sids() and not jobs:
        return Backups(jobs=(), observations=tuple(observations),
                       unknown="no user hive is loaded: File History is per user and cannot be seen")
    return Backups(jobs=tuple(jobs), observations=tuple(observations))


def _qfe_date(value: object) -> datetime | None:
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", str(value or "").strip())
    if not match:
        return None
    return datetime(int(match.group(3)), int(match.group(1)), int(match.group(2)), tzinfo=UTC)


def patches_from(reg: RegistrySnapshot | None, qfe: WmiResult | None) -> Patches:
    observations: list[Observation] = []
    dates: list[tuple[datetime, str]] = []
    if qfe is not None:
        observations.append(qfe.observe())
        for row in qfe.rows:
            when = _qfe_date(row.get("InstalledOn"))
            if when:
                dates.append((when, f"Win32_QuickFixEngineering {row.get('HotFixID')} InstalledOn (date only)"))
    if reg is not None:
        for key in WU_KEYS:
            observations.append(reg.observe(key, "LastSuccessTime"))
        text = reg.value(WU_KEYS[0], "LastSuccessTime")
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                dates.append((datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
                              "Windows Update Results\\Install LastSuccessTime"))
    if qfe is None and reg is None:
        raise Unknown("neither WMI nor the registry could be read")
    if not dates and (qfe is None or not qfe.rows):
        raise Unknown("no installed update is listed (Win32_QuickFixEngineering empty or unreadable, no Windows "
                      "Update result keys)")
    last, note = max(dates) if dates else (None, "no dated install")
    return Patches(source="Windows Update", pending=(), observations=tuple(observations), pending_known=False,
                   last_install=last, last_install_note=note)


def software_from(reg: RegistrySnapshot) -> Software:
    items, unreadable = _programs(reg)
    machine = uninstall_roots([])[0]
    if not reg.has_key(machine):
        raise Unknown(f"{machine} does not exist: not a Windows registry")
    obs = Observation(source=f"registry: {machine} (DisplayName, DisplayVersion)", output=f"{len(items)} programs",
                      collected_at=reg.collected_at)
    return Software(items=tuple(items), observations=(obs,),
                    unknown=("not readable: " + "; ".join(unreadable)) if unreadable else None)
