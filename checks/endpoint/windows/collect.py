"""``collect_windows``: one credentialed collection of a Windows endpoint -> ``EndpointInventory``.

Two transports, each optional to the other: the remote registry (MS-RRP over SMB, TCP 445) feeds
OS, screen lock, firewall, sync clients and (on servers) Defender; WMI over DCOM (TCP 135 + a
dynamic port) feeds BitLocker and Security Center. A section whose source failed is ``None`` with
a ``missing`` entry saying why; the collection raises only when the logon is refused or neither
transport reached the host, so a firewall blocking DCOM costs the BitLocker section, not the scan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from scanner.errors import ProbeError
from scanner.models import ErrorReason, utcnow

from ..inventory import Accounts, AntiMalware, EndpointInventory, Unknown
from . import accounts, antimalware, bitlocker, firewall, maintenance, osinfo, screenlock, syncclients
from .logon import WindowsLogon
from .records import RegistrySnapshot, RegValue, WmiResult
from .rrp import KeyUnreadable, RemoteRegistry
from .samr import read_policy
from .wmi import NamespaceMissing, run_queries

T = TypeVar("T")

# (key, value names or None for all values) read for every endpoint.
FIXED_READS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    (osinfo.CURRENT_VERSION, osinfo.VALUES),
    *((key, ("EnableFirewall",)) for key in firewall.KEYS[:-1]),
    (firewall.SERVICE, ("Start",)),
    (screenlock.MACHINE_POLICY, ("InactivityTimeoutSecs",)),
    (antimalware.DEFENDER, ("DisableAntiSpyware",)),
    (antimalware.DEFENDER_POLICY, ("DisableAntiSpyware",)),
    (f"{antimalware.DEFENDER}\\{antimalware.RTP}", ("DisableRealtimeMonitoring",)),
    (f"{antimalware.DEFENDER_POLICY}\\{antimalware.RTP}", ("DisableRealtimeMonitoring",)),
    (antimalware.WINDEFEND, ("Start",)),
    *((key, ("LastSuccessTime",)) for key in maintenance.WU_KEYS),
)
_UNREACHED = frozenset({ErrorReason.REFUSED, ErrorReason.UNREACHABLE, ErrorReason.TIMEOUT})
WMI_QUERIES = (
    (bitlocker.BITLOCKER_NAMESPACE, bitlocker.BITLOCKER_QUERY),
    ("root\\cimv2", bitlocker.LOGICAL_DISK_QUERY),
    (antimalware.SECURITY_CENTER_NAMESPACE, antimalware.SECURITY_CENTER_QUERY),
    ("root\\cimv2", maintenance.QFE_QUERY),
)


def read_registry(reg: RemoteRegistry) -> RegistrySnapshot:
    """Everything the parsers need, as one snapshot; unreadable keys recorded as errors."""
    keys: dict[str, dict[str, RegValue]] = {}
    errors: dict[str, str] = {}
    when = utcnow()

    def read(path: str, names: tuple[str, ...] | None) -> None:
        try:
            values = reg.read(path, names)
        except KeyUnreadable as exc:
            errors[path] = str(exc)
            return
        if values is not None:
            keys[path] = values

    def children(path: str) -> list[str]:
        try:
            return reg.subkeys(path) or []
        except KeyUnreadable as exc:
            errors[path] = str(exc)
            return []

    for path, names in FIXED_READS:
        read(path, names)
    sids = [name for name in children("HKU") if name.startswith(("S-1-5-21-", "S-1-12-1-"))
            and not name.endswith("_Classes")]
    for sid in sids:
        for rel in (screenlock.USER_DESKTOP, screenlock.USER_POLICY):
            read(f"HKU\\{sid}\\{rel}", screenlock.USER_VALUES)
    for root in syncclients.uninstall_roots(sids):
        subs = children(root)
        if subs or root not in errors:
            read(root, ())  # records that the root exists (and nothing else)
        for sub in subs:
            read(f"{root}\\{sub}", maintenance.UNINSTALL_VALUES)
    for path in syncclients.run_keys(sids):
        read(path, None)
    for path in maintenance.file_history_keys(sids):
        read(path, ("ProtectedUpToTime",))
    for path in syncclients.personal_onedrive_keys(sids):
        read(path, ())  # existence only: its values are personal data
    return RegistrySnapshot(keys=keys, errors=errors, collected_at=when)


def _section(name: str, parse: Callable[[], T], missing: list[tuple[str, str]]) -> T | None:
    try:
        return parse()
    except Unknown as exc:
        missing.append((name, f"could not decide: {exc}"))
        return None


def collect_windows(host: str, creds: WindowsLogon, timeout: float) -> EndpointInventory:
    """Collect every section from one Windows endpoint (see module docstring for what fails how)."""
    missing: list[tuple[str, str]] = []
    snapshot: RegistrySnapshot | None = None
    registry_error: ProbeError | None = None
    try:
        with RemoteRegistry(host, creds, timeout) as reg:
            snapshot = read_registry(reg)
    except ProbeError as exc:
        if exc.reason is ErrorReason.AUTH_FAILED:
            raise
        registry_error = exc
    wmi: list[WmiResult | ProbeError]
    try:
        wmi = run_queries(host, creds, timeout, WMI_QUERIES)
    except ProbeError as exc:
        if exc.reason is ErrorReason.AUTH_FAILED:
            raise
        if snapshot is None and exc.reason in _UNREACHED:
            # Neither transport got anywhere: the collection failed as a whole (the registry's reason).
            raise (registry_error or exc) from exc
        wmi = [exc] * len(WMI_QUERIES)
    volumes, disks, security_center, hotfixes = wmi
    for section in ("os", "screen_lock", "firewall", "sync_clients", "backup", "software"):
        if snapshot is None:
            missing.append((section, f"remote registry unavailable: {registry_error}"))
    os_info = lock = wall = sync = backups = software = None
    if snapshot is not None:
        snap = snapshot
        os_info = _section("os", lambda: osinfo.from_registry(snap), missing)
        lock = _section("screen_lock", lambda: screenlock.from_registry(snap), missing)
        wall = _section("firewall", lambda: firewall.from_registry(snap), missing)
        sync = _section("sync_clients", lambda: syncclients.from_registry(snap), missing)
        backups = _section("backup", lambda: maintenance.backups_from(snap), missing)
        software = _section("software", lambda: maintenance.software_from(snap), missing)
    qfe = hotfixes if isinstance(hotfixes, WmiResult) else None
    patches = _section("patches", lambda: maintenance.patches_from(snapshot, qfe), missing)
    account_policy = _accounts(host, creds, timeout, missing)
    if isinstance(volumes, WmiResult):
        disk = bitlocker.from_wmi(volumes, disks if isinstance(disks, WmiResult) else None)
    else:
        disk = None
        hint = " (Win32_EncryptableVolume exists only where BitLocker is installed)" \
            if isinstance(volumes, NamespaceMissing) else ""
        missing.append(("disk", f"WMI BitLocker query failed: {volumes}{hint}"))
    antimalware_section = _antimalware(security_center, snapshot, registry_error, missing)
    return EndpointInventory(collector="windows", os=os_info, disk=disk, screen_lock=lock, firewall=wall,
                             antimalware=antimalware_section, sync_clients=sync, backup=backups, patches=patches,
                             accounts=account_policy, software=software, missing=tuple(missing),
                             account=creds.account)


def _accounts(host: str, creds: WindowsLogon, timeout: float, missing: list[tuple[str, str]]) -> Accounts | None:
    try:
        return accounts.from_samr(read_policy(host, creds, timeout))
    except ProbeError as exc:
        if exc.reason is ErrorReason.AUTH_FAILED:
            raise
        missing.append(("accounts", f"MS-SAMR: {exc}"))
        return None


def _antimalware(result: WmiResult | ProbeError, reg: RegistrySnapshot | None, registry_error: ProbeError | None,
                 missing: list[tuple[str, str]]) -> AntiMalware | None:
    if isinstance(result, WmiResult):
        return antimalware.from_security_center(result)
    if isinstance(result, NamespaceMissing) and reg is not None:
        # Windows Server has no Security Center: fall back to Defender's own registry settings.
        return antimalware.from_defender_registry(reg, "no root\\SecurityCenter2 (Windows Server)")
    why = f"Security Center query failed: {result}"
    if reg is None:
        why += f"; Defender registry fallback unavailable: {registry_error}"
    missing.append(("antimalware", why))
    return None
