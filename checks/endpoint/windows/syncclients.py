"""Consumer sync clients from Uninstall entries, Run keys and OneDrive's personal-account key.

Installed programs are listed under ``...\\CurrentVersion\\Uninstall\\<id>`` (DisplayName) for the
machine (64- and 32-bit views, the latter under WOW6432Node) and per user; programs started at
logon are the values of ``...\\CurrentVersion\\Run``
(https://learn.microsoft.com/en-us/windows/win32/setupapi/uninstall-registry-key,
https://learn.microsoft.com/en-us/windows/win32/setupapi/run-and-runonce-registry-keys).
Which names mean which client is the catalogue's business (``checks.endpoint.sync_clients``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..inventory import OUTPUT_CAP, Observation, OsFamily, SyncClients, SyncClientSeen
from .records import RegistrySnapshot, render

CURRENT_VERSION = "Microsoft\\Windows\\CurrentVersion"
MACHINE_ROOTS = ("HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\WOW6432Node")
ONEDRIVE_PERSONAL = "Software\\Microsoft\\OneDrive\\Accounts\\Personal"  # relative to a user hive


def uninstall_roots(sids: list[str]) -> list[str]:
    return [f"{root}\\{CURRENT_VERSION}\\Uninstall" for root in MACHINE_ROOTS] + \
        [f"HKU\\{sid}\\Software\\{CURRENT_VERSION}\\Uninstall" for sid in sids]


def run_keys(sids: list[str]) -> list[str]:
    return [f"{root}\\{CURRENT_VERSION}\\Run" for root in MACHINE_ROOTS] + \
        [f"HKU\\{sid}\\Software\\{CURRENT_VERSION}\\Run" for sid in sids]


def personal_onedrive_keys(sids: list[str]) -> list[str]:
    return [f"HKU\\{sid}\\{_personal_key_relative()}" for sid in sids]


def _personal_key_relative() -> str:
    # The catalogue names the key as the logged-on user sees it (HKCU\...); remotely it is HKU\<SID>\...
    spec = _catalogue_onedrive()
    key = spec if spec else ONEDRIVE_PERSONAL
    return key.split("\\", 1)[1] if key.upper().startswith("HKCU\\") else key


def _catalogue_onedrive() -> str | None:
    from .. import sync_clients

    for spec in sync_clients.CLIENTS:
        if spec.personal_account_key:
            return spec.personal_account_key
    return None


def _matchers() -> tuple[Callable[[str], str | None], Callable[[str], str | None], str | None]:
    from .. import sync_clients

    def uninstall(name: str) -> str | None:
        spec = sync_clients.match_uninstall(name)
        return spec.name if spec else None

    def autostart(entry: str) -> str | None:
        spec = sync_clients.match_autostart(entry, OsFamily.WINDOWS)
        return spec.name if spec else None

    personal = next((s.name for s in sync_clients.CLIENTS if s.personal_account_key), None)
    return uninstall, autostart, personal


def from_registry(reg: RegistrySnapshot) -> SyncClients:
    match_uninstall, match_autostart, onedrive = _matchers()
    sids = reg.user_sids()
    seen: list[SyncClientSeen] = []
    observations: list[Observation] = []
    unreadable: list[str] = []
    for root in uninstall_roots(sids):
        if reg.error(root):
            unreadable.append(root)
        lines, count = [], 0
        for key in reg.subkeys(root):
            name = reg.value(key, "DisplayName")
            if not isinstance(name, str) or not name.strip():
                continue
            count += 1
            client = match_uninstall(name)
            if client:
                seen.append(SyncClientSeen(client=client, how="uninstall entry", where=f"{key}\\DisplayName={name}"))
                lines.append(f"{key.rsplit(chr(92), 1)[-1]}: {name}")
        observations.append(_summary(reg, root, f"{count} programs with a DisplayName", lines))
    for key in run_keys(sids):
        if reg.error(key):
            unreadable.append(key)
        values = reg.values(key)
        lines = []
        for value_name, command in values.items():
            client = match_autostart(value_name)
            if client:
                seen.append(SyncClientSeen(client=client, how="autostart entry", where=f"{key}\\{value_name}"))
            lines.append(f"{value_name} = {render(command)}")
        observations.append(_summary(reg, key, f"{len(values)} values", lines))
    for key in personal_onedrive_keys(sids):
        if reg.error(key):
            unreadable.append(key)
        # Existence only: the key's values (e-mail address, folders) are personal data, not evidence.
        observations.append(reg.observe(key))
        if onedrive and reg.has_key(key):
            seen.append(SyncClientSeen(client=onedrive, how="personal account configured", where=key))
    unknown = None
    machine = uninstall_roots([])[0]
    if unreadable:
        unknown = "not readable: " + ", ".join(f"{k} ({reg.error(k)})" for k in unreadable)
    elif not reg.has_key(machine):
        # Every Windows installation has this key: without it nothing was really listed (a
        # registry that is not Windows', e.g. Samba's), so "none found" would be a false PASS.
        unknown = f"{machine} does not exist: not a Windows registry, nothing to judge"
    elif not sids:
        # Machine-wide entries were read; per-user installs (OneDrive, Dropbox) live in user hives.
        observations.append(Observation(source="registry: HKU", output="no user hive loaded: per-user installs, "
                                        "Run keys and OneDrive accounts of users not logged on are not visible",
                                        collected_at=reg.collected_at))
    return SyncClients(seen=tuple(seen), observations=tuple(observations), unknown=unknown)


def _summary(reg: RegistrySnapshot, key: str, what: str, lines: list[str]) -> Observation:
    if reg.error(key) or not reg.has_key(key):
        return reg.observe(key)
    output = f"{what}; matched: " + ("; ".join(lines) if lines else "none") if "programs" in what else \
        f"{what}: " + ("; ".join(lines) if lines else "(empty)")
    return Observation(source=f"registry: {key}", output=output[:OUTPUT_CAP], collected_at=reg.collected_at)
