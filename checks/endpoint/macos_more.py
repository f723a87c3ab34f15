"""macOS: Time Machine, software updates and installed applications (pure parsers, recordings only).

- Time Machine: ``tmutil destinationinfo`` (one block per destination: Name, Kind, Mount Point or
  URL, ID), ``tmutil latestbackup`` (the newest backup's path, ending in its local time
  ``YYYY-MM-DD-HHMMSS``) and the destination's ``LastKnownEncryptionState`` (``Encrypted`` /
  ``NotEncrypted``) in /Library/Preferences/com.apple.TimeMachine (``defaults read``, as root).
- Updates, without asking Apple's servers from the endpoint: the last automatic check's result in
  /Library/Preferences/com.apple.SoftwareUpdate (``RecommendedUpdates``, ``LastSuccessfulDate``)
  and the install history ``softwareupdate --history`` (dates local, ``MM/DD/YYYY, HH:MM:SS``).
  Apple publishes security content for every macOS update (support.apple.com/100100), so each
  recommended macOS, Safari or security update counts as a security update; its age is not known.
- Applications: the names in /Applications (versions are not read: bundle paths hold spaces).
The formats are documented in tests/fixtures/endpoint/macos/README.md.
"""

from __future__ import annotations

import re
from datetime import datetime

from .backup_common import endpoint_offset, iso_time, local_time
from .commands import Command, Results, need
from .inventory import (
    Accounts,
    BackupJob,
    Backups,
    Observation,
    Patches,
    PendingUpdate,
    Software,
    SoftwareItem,
    Unknown,
)

COMMANDS: tuple[Command, ...] = (
    Command("clock", ("date", "+%Y-%m-%dT%H:%M:%S%z")),
    Command("tm_destinations", ("tmutil", "destinationinfo")),
    Command("tm_latest", ("tmutil", "latestbackup")),
    Command("tm_prefs", ("defaults", "read", "/Library/Preferences/com.apple.TimeMachine"), prefer_root=True),
    Command("su_prefs", ("defaults", "read", "/Library/Preferences/com.apple.SoftwareUpdate")),
    Command("su_history", ("softwareupdate", "--history")),
)
_BLOCK_FIELD = re.compile(r"^(Name|Kind|Mount Point|URL|ID)\s*:\s*(.+?)\s*$", re.M)
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d-\d{6})(?:\.backup)?/?$")


def parse_backup(results: Results) -> Backups:
    dest = results.get("tm_destinations")
    if dest is None or dest.not_run or dest.not_found:
        raise Unknown(dest.why_failed() if dest is not None else "tmutil destinationinfo not collected")
    observations = [dest.observation()]
    text = dest.stdout + dest.stderr
    if "No destinations configured" in text:
        return Backups(jobs=(), observations=tuple(observations))
    if "Operation not permitted" in text or "Full Disk Access" in text:
        raise Unknown("tmutil needs Full Disk Access for the collecting account's session")
    if not dest.ok:
        raise Unknown(dest.why_failed())
    blocks = [dict(_BLOCK_FIELD.findall(b)) for b in re.split(r"^=+\s*$", dest.stdout, flags=re.M)]
    blocks = [b for b in blocks if b.get("ID")]
    if not blocks:
        raise Unknown(f"tmutil destinationinfo: output this parser does not read ({text.strip()[:80]!r})")
    prefs = results.get("tm_prefs")
    states: dict[str, str] = {}
    if prefs is not None:
        observations.append(prefs.observation())
        if prefs.ok:
            for dest_id, state in re.findall(r'DestinationID = "?([0-9A-F-]+)"?;(?:(?!DestinationID).)*?'
                                             r'LastKnownEncryptionState = (\w+);', prefs.stdout, re.S):
                states[dest_id] = state
    latest = results.get("tm_latest")
    when: datetime | None = None
    latest_note = ""
    if latest is not None:
        observations.append(latest.observation())
        stamp = _STAMP.search(latest.stdout.strip()) if latest.ok else None
        if stamp:
            when = local_time(stamp.group(1), endpoint_offset(results))
            latest_note = "tmutil latestbackup (local time)" if when else "the endpoint's UTC offset was not read"
        else:
            latest_note = latest.why_failed() if not latest.ok else "tmutil latestbackup printed no backup"
    jobs = []
    for block in blocks:
        state = states.get(block["ID"])
        encrypted = {"Encrypted": True, "NotEncrypted": False}.get(state or "")
        jobs.append(BackupJob(
            tool="Time Machine", destination=f"{block.get('Name', '?')} ({block.get('Kind', '?')}"
            f"{', ' + block['Mount Point'] if 'Mount Point' in block else ''})",
            encrypted=encrypted,
            encryption_note=f"LastKnownEncryptionState {state}" if state else
            "no LastKnownEncryptionState for this destination in com.apple.TimeMachine (root needed?)",
            last_success=when, last_note=latest_note if when else "",
            time_unknown=None if when or (latest is not None and latest.ok and not latest.stdout.strip())
            else latest_note or "tmutil latestbackup not collected",
            scheduled="Time Machine automatic backups" if re.search(r"AutoBackup = 1;", prefs.stdout if prefs
                                                                    else "") else ""))
    return Backups(jobs=tuple(jobs), observations=tuple(observations))


def parse_patches(results: Results) -> Patches:
    prefs = need(results, "su_prefs")
    observations: list[Observation] = [prefs.observation()]
    pending = []
    for block in re.findall(r"\{([^{}]*)\}", prefs.stdout.split("RecommendedUpdates", 1)[-1]) \
            if "RecommendedUpdates" in prefs.stdout else []:
        name = re.search(r'"Display Name" = "?([^";]+)"?;', block)
        version = re.search(r'"Display Version" = "?([^";]+)"?;', block)
        if name:
            title = name.group(1)
            pending.append(PendingUpdate(package=title, available=version.group(1) if version else "",
                                         security=bool(re.search(r"(?i)macos|security|safari|xprotect", title)),
                                         origin="com.apple.SoftwareUpdate RecommendedUpdates"))
    if "LastSuccessfulDate" not in prefs.stdout:
        raise Unknown("com.apple.SoftwareUpdate has no LastSuccessfulDate: the update check never ran")
    history = results.get("su_history")
    last: datetime | None = None
    note = ""
    if history is not None:
        observations.append(history.observation())
        if history.ok:
            offset = endpoint_offset(results)
            dates = []
            for month, day, year, clock in re.findall(r"(\d\d)/(\d\d)/(\d{4}), (\d\d:\d\d:\d\d)", history.stdout):
                dates.append(local_time(f"{year}-{month}-{day} {clock}", offset))
            known = [d for d in dates if d is not None]
            last = max(known) if known else None
            note = "newest entry of softwareupdate --history" if last else \
                ("the endpoint's UTC offset was not read" if dates else "softwareupdate --history lists no install")
        else:
            note = history.why_failed()
    checked = re.search(r'LastSuccessfulDate = "([^"]+)";', prefs.stdout)
    when_checked = iso_time(checked.group(1).replace(" +0000", "+00:00").replace(" ", "T", 1)) if checked else None
    if when_checked:
        note += f"; last successful update check {when_checked.isoformat()}"
    return Patches(source="softwareupdate", pending=tuple(pending), observations=tuple(observations),
                   last_install=last, last_install_note=note)


def parse_accounts(results: Results) -> Accounts:
    return Accounts(observations=(), not_applicable="local account and password policy checks are read on Linux "
                                                    "and Windows; macOS is not covered yet")


def parse_software(results: Results) -> Software:
    apps = need(results, "applications")
    items = [SoftwareItem(name=entry.strip().removesuffix(".app"), version="", source="/Applications")
             for entry in apps.stdout.splitlines() if entry.strip().endswith(".app")]
    return Software(items=tuple(items), observations=(apps.observation(),))


def followups(results: Results) -> tuple[Command, ...]:
    return ()
