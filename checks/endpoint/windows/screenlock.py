"""Inactivity lock from the registry: machine policy first, then each loaded user's screen saver.

- Machine: ``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\InactivityTimeoutSecs``
  ("Interactive logon: Machine inactivity limit"; 0 means no limit). Windows locks every session
  after that many idle seconds. Registry path, type (REG_DWORD) and "0 is effectively disabled"
  as stated by DISA's Windows Server 2019 STIG V-92961 (published as InSpec in
  https://github.com/mitre/microsoft-windows-server-2019-stig-baseline/blob/master/controls/V-92961.rb).
- Per user: ``HKU\\<SID>\\Control Panel\\Desktop`` ScreenSaveActive, ScreenSaverIsSecure (password
  on resume), ScreenSaveTimeOut (seconds), all REG_SZ; the Group Policy variants under
  ``HKU\\<SID>\\Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop`` win when present
  (Administrative Templates > Control Panel > Personalization).
HKU holds only the hives of users who are logged on (or whose profile is loaded): the screen
saver of a user who is not logged on cannot be read remotely, and the result says so.
"""

from __future__ import annotations

from ..inventory import Observation, ScreenLock
from .records import RegistrySnapshot, as_int

MACHINE_POLICY = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
USER_DESKTOP = "Control Panel\\Desktop"
USER_POLICY = "Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop"
USER_VALUES = ("ScreenSaveActive", "ScreenSaverIsSecure", "ScreenSaveTimeOut")


class _Odd(Exception):
    pass


def _user_limit(reg: RegistrySnapshot, sid: str, observations: list[Observation]) -> tuple[int | None, str]:
    """The idle seconds after which this user's session locks (None: never) and where that came from."""
    desktop, policy = f"HKU\\{sid}\\{USER_DESKTOP}", f"HKU\\{sid}\\{USER_POLICY}"
    for key in (desktop, policy):
        if reg.error(key):
            raise _Odd(f"{key} not readable ({reg.error(key)})")
    effective: dict[str, int | None] = {}
    sources: set[str] = set()
    for name in USER_VALUES:
        observations += [reg.observe(desktop, name), reg.observe(policy, name)]
        raw, where = reg.value(policy, name), "policy"
        if raw is None:
            raw, where = reg.value(desktop, name), "user setting"
        if raw is None:
            effective[name] = None
            continue
        number = as_int(raw)
        if number is None:
            raise _Odd(f"{sid}: {name} has the odd value {raw!r}")
        effective[name] = number
        sources.add(where)
    source = "screen saver (" + " + ".join(sorted(sources)) + ")" if sources else "screen saver (not set)"
    active, secure, timeout = (effective[n] for n in USER_VALUES)
    # A lock needs all three: the screen saver on, password on resume, and a timeout. A value that
    # is absent is not assumed on (a missed lock is a finding; a guessed lock would be a false PASS).
    if active != 1 or secure != 1 or not timeout:
        return None, source
    return timeout, source


def from_registry(reg: RegistrySnapshot) -> ScreenLock:
    observations = [reg.observe(MACHINE_POLICY, "InactivityTimeoutSecs")]
    if reg.error(MACHINE_POLICY):
        return ScreenLock(observations=tuple(observations),
                          unknown=f"machine policy not readable ({reg.error(MACHINE_POLICY)})")
    raw_machine = reg.value(MACHINE_POLICY, "InactivityTimeoutSecs")
    machine = as_int(raw_machine) if raw_machine is not None else 0
    if machine is None:
        return ScreenLock(observations=tuple(observations),
                          unknown=f"InactivityTimeoutSecs has the odd value {raw_machine!r}")
    sids = reg.user_sids()
    per_user: list[tuple[str, int | None, str]] = []
    try:
        for sid in sids:
            limit, source = _user_limit(reg, sid, observations)
            per_user.append((sid, limit, source))
    except _Odd as exc:
        return ScreenLock(observations=tuple(observations), unknown=str(exc))
    if machine > 0:
        # The machine limit applies to every session; a user's shorter screen-saver lock only helps.
        worst = max((min(machine, lim) if lim else machine for _, lim, _ in per_user), default=machine)
        return ScreenLock(observations=tuple(observations), lock_enabled=True, idle_seconds=worst,
                          source=f"InactivityTimeoutSecs policy ({machine} s)"
                                 + (f"; worst loaded user locks after {worst} s" if per_user else ""))
    if not per_user:
        return ScreenLock(observations=tuple(observations),
                          unknown="no machine inactivity limit, and no user hive is loaded (nobody logged on): "
                                  "the users' screen-saver lock cannot be read remotely")
    unlocked = [sid for sid, lim, _ in per_user if lim is None]
    if unlocked:
        return ScreenLock(observations=tuple(observations), lock_enabled=False,
                          source="no machine inactivity limit; no screen-saver lock for " + ", ".join(unlocked))
    worst_sid, longest, source = max(per_user, key=lambda item: item[1] or 0)
    return ScreenLock(observations=tuple(observations), lock_enabled=True, idle_seconds=longest,
                      source=f"{source}; no machine inactivity limit; longest among {len(per_user)} loaded "
                             f"user(s): {worst_sid}")
