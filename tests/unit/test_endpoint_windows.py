"""Windows endpoint parsers on the fixtures in tests/fixtures/endpoint/windows (see its README).

Every odd or unreadable input must end in ``Unknown`` (raised, or a section's ``unknown``/state
UNKNOWN/``None``), never in a state a check would read as PASS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.endpoint.inventory import EncryptionState, OsFamily, Unknown
from checks.endpoint.windows import parse
from checks.endpoint.windows.logon import WindowsLogon
from checks.endpoint.windows.records import RegistrySnapshot, WmiResult
from checks.endpoint.windows.rrp import decode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "endpoint" / "windows"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"


def reg(name: str) -> RegistrySnapshot:
    return RegistrySnapshot.from_data(json.loads((FIXTURES / "registry" / f"{name}.json").read_text()))


def wmi(name: str) -> WmiResult:
    return WmiResult.from_data(json.loads((FIXTURES / "wmi" / f"{name}.json").read_text()))


def bde(name: str) -> str:
    return (FIXTURES / "manage-bde" / f"{name}.txt").read_text(encoding="utf-8")


def test_every_fixture_is_used_by_a_test() -> None:
    source = Path(__file__).read_text()
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f'"{path.stem}"' in source, f"fixture {path} is not exercised"


# ---------------------------------------------------------------- BitLocker (WMI)
@pytest.mark.parametrize("fixture, states", [
    ("bitlocker-on", [EncryptionState.ENCRYPTED, EncryptionState.ENCRYPTED]),
    ("bitlocker-off", [EncryptionState.NOT_ENCRYPTED]),
    ("bitlocker-suspended", [EncryptionState.SUSPENDED]),
    ("bitlocker-in-progress", [EncryptionState.IN_PROGRESS]),
    ("bitlocker-locked-data", [EncryptionState.ENCRYPTED, EncryptionState.UNKNOWN]),
    ("bitlocker-win7-protection-only", [EncryptionState.NOT_ENCRYPTED]),
    ("bitlocker-odd-values", [EncryptionState.UNKNOWN, EncryptionState.UNKNOWN]),
])
def test_bitlocker_wmi_states(fixture: str, states: list[EncryptionState]) -> None:
    disk = parse.bitlocker_from_wmi(wmi(fixture), wmi("logicaldisk"))
    assert [v.state for v in disk.volumes] == states
    assert disk.unknown is None
    (obs, disks_obs) = disk.observations
    assert obs.source == f"wmi: {parse.BITLOCKER_NAMESPACE}: {parse.BITLOCKER_QUERY}"
    assert "ProtectionStatus=" in obs.output and disks_obs.source.endswith("Win32_LogicalDisk")


def test_bitlocker_wmi_details() -> None:
    c, d = parse.bitlocker_from_wmi(wmi("bitlocker-on"), wmi("logicaldisk")).volumes
    assert (c.name, c.mountpoint, c.method, c.size, c.fstype) == ("C:", "C:", "XTS-AES 128", "510.9 GB", "NTFS")
    assert c.note.startswith("OS volume; ProtectionStatus 1") and d.method == "XTS-AES 256"
    suspended = parse.bitlocker_from_wmi(wmi("bitlocker-suspended")).volumes[0]
    assert "key in the clear" in suspended.note and suspended.size is None
    ambiguous = parse.bitlocker_from_wmi(wmi("bitlocker-win7-protection-only")).volumes[0]
    assert "suspension not excluded" in ambiguous.note


def test_bitlocker_wmi_without_volumes_is_unknown() -> None:
    disk = parse.bitlocker_from_wmi(wmi("bitlocker-none"))
    assert disk.volumes == () and disk.unknown


@pytest.mark.parametrize("protection, conversion, state", [
    (1, 1, EncryptionState.ENCRYPTED), (1, None, EncryptionState.ENCRYPTED),
    (0, 1, EncryptionState.SUSPENDED), (0, 0, EncryptionState.NOT_ENCRYPTED),
    (0, 3, EncryptionState.IN_PROGRESS), (0, 4, EncryptionState.IN_PROGRESS), (1, 5, EncryptionState.IN_PROGRESS),
    (2, 1, EncryptionState.UNKNOWN), (1, 0, EncryptionState.UNKNOWN), (None, 1, EncryptionState.UNKNOWN),
    (3, 1, EncryptionState.UNKNOWN), (1, 6, EncryptionState.UNKNOWN),
])
def test_bitlocker_state_table(protection: int | None, conversion: int | None, state: EncryptionState) -> None:
    assert parse.state_of(protection, conversion)[0] is state


# ---------------------------------------------------------------- BitLocker (manage-bde)
@pytest.mark.parametrize("fixture, states", [
    ("on", [EncryptionState.ENCRYPTED, EncryptionState.ENCRYPTED]),
    ("off", [EncryptionState.NOT_ENCRYPTED]),
    ("suspended", [EncryptionState.SUSPENDED]),
    ("in-progress", [EncryptionState.IN_PROGRESS]),
])
def test_manage_bde(fixture: str, states: list[EncryptionState]) -> None:
    disk = parse.bitlocker_from_manage_bde(bde(fixture), exit_status=0)
    assert [v.state for v in disk.volumes] == states
    assert disk.observations[0].source == "command: manage-bde -status"
    assert disk.observations[0].output == bde(fixture)


def test_manage_bde_details() -> None:
    c, d = parse.bitlocker_from_manage_bde(bde("on")).volumes
    assert (c.name, c.size, c.method) == ("C:", "475.83 GB", "XTS-AES 128")
    assert d.note.startswith("Conversion Status Used Space Only Encrypted")
    assert parse.bitlocker_from_manage_bde(bde("off")).volumes[0].method is None


def test_manage_bde_agrees_with_wmi() -> None:
    for name in ("on", "off", "suspended", "in-progress"):
        text_states = {v.name: v.state for v in parse.bitlocker_from_manage_bde(bde(name)).volumes}
        wmi_states = {v.name: v.state for v in parse.bitlocker_from_wmi(wmi(f"bitlocker-{name}")).volumes}
        assert text_states == wmi_states, name


def test_manage_bde_in_german_is_unknown() -> None:
    with pytest.raises(Unknown, match="English"):
        parse.bitlocker_from_manage_bde(bde("german"))


@pytest.mark.parametrize("text", [
    "", "'manage-bde' is not recognized as an internal or external command,\r\n",
    "BitLocker Drive Encryption: Configuration Tool version 10.0.19041\n\nERROR: An error occurred (code 0x80070005):\n"
    "Access is denied.\n",
    "BitLocker Drive Encryption: Configuration Tool\nVolume C: [OS]\n    Size:  1 GB\n",
])
def test_manage_bde_garbage_is_unknown(text: str) -> None:
    with pytest.raises(Unknown):
        parse.bitlocker_from_manage_bde(text)


def test_manage_bde_unrecognised_value_is_unknown_state() -> None:
    text = bde("on").replace("Conversion Status:    Fully Encrypted", "Conversion Status:    Teilweise")
    assert parse.bitlocker_from_manage_bde(text).volumes[0].state is EncryptionState.UNKNOWN
    locked = bde("on").replace("Lock Status:          Unlocked", "Lock Status:          Locked", 1)
    assert parse.bitlocker_from_manage_bde(locked).volumes[0].state is EncryptionState.UNKNOWN


# ---------------------------------------------------------------- OS
@pytest.mark.parametrize("fixture, product_id, name, version, build, edition", [
    ("os-windows-10-22h2-pro", "windows-10", "Windows 10 Pro 22H2", "22H2", "19045.3803", "Professional"),
    ("os-windows-11-23h2-enterprise", "windows-11", "Windows 11 Enterprise 23H2", "23H2", "22631.4460", "Enterprise"),
    ("os-windows-server-2019-standard", "windows-server-2019", "Windows Server 2019 Standard", "2019",
     "17763.6532", "ServerStandard"),
    ("os-windows-7-sp1-pro", "windows-7", "Windows 7 Professional", "6.1", "7601", "Professional"),
])
def test_os(fixture: str, product_id: str, name: str, version: str, build: str, edition: str) -> None:
    info = parse.os_from_registry(reg(fixture))
    assert (info.family, info.product_id, info.name, info.version, info.build, info.edition) == \
        (OsFamily.WINDOWS, product_id, name, version, build, edition)
    assert any(o.source.endswith("CurrentVersion\\CurrentBuildNumber") for o in info.observations)


@pytest.mark.parametrize("build, install, product, expected", [
    (9200, "Server", "Windows Server 2012 Datacenter", "windows-server-2012"),
    (9600, "Server Core", "Windows Server 2012 R2 Standard", "windows-server-2012-r2"),
    (14393, "Server", "Windows Server 2016 Standard", "windows-server-2016"),
    (20348, "Server", "Windows Server 2022 Datacenter", "windows-server-2022"),
    (26100, "Server", "Windows Server 2025 Standard", "windows-server-2025"),
    (26100, "Client", "Windows 10 Pro", "windows-11"),
    (9600, "Client", "Windows 8.1 Pro", "windows-8.1"),
    (17763, "", "Windows Server 2019 Datacenter", "windows-server-2019"),
])
def test_os_table(build: int, install: str, product: str, expected: str) -> None:
    values: dict[str, str | int | list[str]] = {"ProductName": product, "CurrentBuildNumber": str(build),
                                                "DisplayVersion": "24H2", "CurrentVersion": "6.3"}
    if install:
        values["InstallationType"] = install
    snapshot = RegistrySnapshot(keys={"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion": values})
    assert parse.os_from_registry(snapshot).product_id == expected


@pytest.mark.parametrize("fixture", ["os-unknown-build", "os-samba-currentversion", "screensaver-no-user-loaded"])
def test_os_undecidable(fixture: str) -> None:
    with pytest.raises(Unknown):
        parse.os_from_registry(reg(fixture))


def test_os_unreadable_and_odd_install_type() -> None:
    key = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
    with pytest.raises(Unknown, match="access denied"):
        parse.os_from_registry(RegistrySnapshot(keys={}, errors={key: "access denied"}))
    odd = RegistrySnapshot(keys={key: {"ProductName": "Windows 10 IoT", "CurrentBuildNumber": "19045",
                                       "InstallationType": "Nano", "DisplayVersion": "22H2"}})
    with pytest.raises(Unknown, match="Nano"):
        parse.os_from_registry(odd)


# ---------------------------------------------------------------- firewall
@pytest.mark.parametrize("fixture, enabled, off", [
    ("firewall-all-on", True, []),
    ("firewall-public-off", False, ["Public"]),
    ("firewall-gpo-domain-off", False, ["Domain"]),
    ("firewall-gpo-public-on", True, []),
    ("firewall-service-disabled", False, []),
])
def test_firewall(fixture: str, enabled: bool, off: list[str]) -> None:
    fw = parse.firewall_from_registry(reg(fixture))
    assert fw.enabled is enabled and fw.unknown is None
    assert [name for name, on in fw.profiles if not on] == off
    assert [name for name, _ in fw.profiles] == ["Domain", "Private", "Public"]
    for name in off:
        assert f"off: {name}" in fw.detail
    assert all(o.source.startswith("registry: HKLM\\") for o in fw.observations)


def test_firewall_detail_names_policy_and_service() -> None:
    assert "Domain off (Group Policy)" in parse.firewall_from_registry(reg("firewall-gpo-domain-off")).detail
    assert "Public on (Group Policy)" in parse.firewall_from_registry(reg("firewall-gpo-public-on")).detail
    assert "MpsSvc" in parse.firewall_from_registry(reg("firewall-service-disabled")).detail


@pytest.mark.parametrize("fixture, why", [
    ("firewall-policy-unreadable", "access denied"), ("firewall-odd-value", "odd value"),
    ("screensaver-no-user-loaded", "not set"),
])
def test_firewall_unknown(fixture: str, why: str) -> None:
    fw = parse.firewall_from_registry(reg(fixture))
    assert fw.enabled is None and fw.unknown and why in fw.unknown


# ---------------------------------------------------------------- screen lock
@pytest.mark.parametrize("fixture, enabled, seconds, source", [
    ("screensaver-secure-600", True, 600, "screen saver (user setting)"),
    ("screensaver-not-secure", False, None, "no screen-saver lock"),
    ("screensaver-policy-wins", True, 900, "screen saver (policy)"),
    ("screensaver-machine-inactivity-900", True, 900, "InactivityTimeoutSecs policy (900 s)"),
    ("screensaver-two-users-one-unlocked", False, None, "S-1-5-21-3623811015-3361044348-30300820-1014"),
])
def test_screen_lock(fixture: str, enabled: bool, seconds: int | None, source: str) -> None:
    lock = parse.screen_lock_from_registry(reg(fixture))
    assert (lock.lock_enabled, lock.idle_seconds, lock.unknown) == (enabled, seconds, None)
    assert source in lock.source
    assert lock.observations[0].source.endswith("Policies\\System\\InactivityTimeoutSecs")


def test_screen_lock_machine_limit_and_shorter_user_lock() -> None:
    snapshot = RegistrySnapshot(keys={
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System": {"InactivityTimeoutSecs": 1800},
        f"HKU\\{SID}\\Control Panel\\Desktop": {"ScreenSaveActive": "1", "ScreenSaverIsSecure": "1",
                                                 "ScreenSaveTimeOut": "300"}})
    lock = parse.screen_lock_from_registry(snapshot)
    assert (lock.lock_enabled, lock.idle_seconds) == (True, 300)


@pytest.mark.parametrize("fixture, why", [
    ("screensaver-no-user-loaded", "no user hive is loaded"), ("screensaver-odd-timeout", "ten minutes"),
])
def test_screen_lock_unknown(fixture: str, why: str) -> None:
    lock = parse.screen_lock_from_registry(reg(fixture))
    assert lock.lock_enabled is None and lock.unknown and why in lock.unknown


def test_screen_lock_unreadable_policy_is_unknown() -> None:
    key = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
    lock = parse.screen_lock_from_registry(RegistrySnapshot(keys={}, errors={key: "access denied"}))
    assert lock.lock_enabled is None and lock.unknown
    odd = parse.screen_lock_from_registry(RegistrySnapshot(keys={key: {"InactivityTimeoutSecs": "soon"}}))
    assert odd.lock_enabled is None and odd.unknown


# ---------------------------------------------------------------- anti-malware
def test_security_center_defender_current() -> None:
    am = parse.antimalware_from_security_center(wmi("securitycenter-defender-current"))
    (product,) = am.products
    assert (product.name, product.running, product.up_to_date) == ("Windows Defender", True, True)
    assert product.how == "SecurityCenter2 productState 0x61100"
    assert am.observations[0].source == "wmi: root\\SecurityCenter2: SELECT displayName, productState FROM " \
        "AntiVirusProduct"


def test_security_center_third_party_out_of_date() -> None:
    defender, symantec = parse.antimalware_from_security_center(wmi("securitycenter-thirdparty-outdated")).products
    assert (defender.running, defender.up_to_date) == (False, True)
    assert (symantec.name, symantec.running, symantec.up_to_date) == ("Symantec Endpoint Protection", True, False)


def test_security_center_none_and_odd() -> None:
    none = parse.antimalware_from_security_center(wmi("securitycenter-none"))
    assert none.products == () and none.unknown is None and none.observations[0].output == "(no instances)"
    odd = parse.antimalware_from_security_center(wmi("securitycenter-odd")).products
    assert [(p.running, p.up_to_date) for p in odd] == [(None, True), (None, None)]


@pytest.mark.parametrize("state, expected", [
    (0x41000, (True, True)), (0x41010, (True, False)), (0x61100, (True, True)), (0x60100, (False, True)),
    (0x60110, (False, False)), (0x62000, (None, True)), (0x61020, (True, None)),
])
def test_product_state_decoding(state: int, expected: tuple[bool | None, bool | None]) -> None:
    assert parse.decode_product_state(state) == expected


@pytest.mark.parametrize("fixture, running, why", [
    ("defender-server-on", True, "start automatic"),
    ("defender-server-rtp-off-by-policy", False, "DisableRealtimeMonitoring=1"),
])
def test_defender_registry(fixture: str, running: bool, why: str) -> None:
    am = parse.antimalware_from_defender_registry(reg(fixture), "no root\\SecurityCenter2")
    (product,) = am.products
    assert (product.name, product.running, product.up_to_date) == ("Microsoft Defender Antivirus", running, None)
    assert why in product.how and am.unknown is None


def test_defender_registry_absent_or_unreadable_is_unknown() -> None:
    am = parse.antimalware_from_defender_registry(reg("defender-server-absent"), "no root\\SecurityCenter2")
    assert am.products == () and am.unknown and am.unknown.startswith("no root\\SecurityCenter2")
    denied = RegistrySnapshot(keys={}, errors={"HKLM\\SOFTWARE\\Microsoft\\Windows Defender": "access denied"})
    assert parse.antimalware_from_defender_registry(denied).unknown


# ---------------------------------------------------------------- sync clients
def test_sync_clients_seen() -> None:
    sync = parse.sync_clients_from_registry(reg("sync-clients"))
    seen = {(s.client, s.how) for s in sync.seen}
    assert seen == {("Dropbox", "uninstall entry"), ("Google Drive for desktop", "uninstall entry"),
                    ("OneDrive (personal)", "uninstall entry"), ("OneDrive (personal)", "autostart entry"),
                    ("OneDrive (personal)", "personal account configured")}
    personal = next(s for s in sync.seen if s.how == "personal account configured")
    assert personal.where == f"HKU\\{SID}\\Software\\Microsoft\\OneDrive\\Accounts\\Personal"
    assert sync.unknown is None
    assert any(o.output == "(key present)" and "Accounts\\Personal" in o.source for o in sync.observations)


def test_sync_clients_none_and_unreadable() -> None:
    none = parse.sync_clients_from_registry(reg("sync-clients-none"))
    assert none.seen == () and none.unknown is None
    assert any("1 programs with a DisplayName; matched: none" in o.output for o in none.observations)
    denied = parse.sync_clients_from_registry(reg("sync-clients-unreadable"))
    assert denied.unknown and "access denied" in denied.unknown


def test_sync_clients_without_user_hives_says_so() -> None:
    machine = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
    sync = parse.sync_clients_from_registry(RegistrySnapshot(keys={machine: {}}))
    assert sync.unknown is None and any("no user hive loaded" in o.output for o in sync.observations)
    # No machine Uninstall key at all (Samba's registry): nothing was listed, so no verdict.
    empty = parse.sync_clients_from_registry(RegistrySnapshot(keys={}))
    assert empty.unknown and "not a Windows registry" in empty.unknown


# ---------------------------------------------------------------- records, logon
def test_registry_lookups_are_case_insensitive() -> None:
    snapshot = reg("os-windows-10-22h2-pro")
    assert snapshot.value("hklm\\software\\microsoft\\WINDOWS NT\\currentversion", "productname") == "Windows 10 Pro"
    assert snapshot.observe("HKLM\\SOFTWARE\\Nope", "X").output == "(key not present)"


@pytest.mark.parametrize("data", [{"keys": []}, {"keys": {}, "errors": "x"}])
def test_bad_registry_record(data: dict[str, object]) -> None:
    with pytest.raises(Unknown):
        RegistrySnapshot.from_data(data)


def test_bad_wmi_record() -> None:
    with pytest.raises(Unknown):
        WmiResult.from_data({"rows": "nope"})


def test_decode_registry_values() -> None:
    assert decode(1, "Windows 10 Pro\x00".encode("utf-16le")) == "Windows 10 Pro"
    assert decode(4, [b"\x84", b"\x03", b"\x00", b"\x00"]) == 900
    assert decode(7, "a\x00b\x00\x00".encode("utf-16le")) == ["a", "b"]
    assert decode(3, b"\x01\x02") == "hex:0102"


def test_logon_never_shows_secrets() -> None:
    logon = WindowsLogon("admin", "CLINIC", password="S3cret-canary!")
    assert "S3cret" not in repr(logon) and "S3cret" not in str(logon) and "S3cret" not in f"{logon!r} {[logon]}"
    hashed = WindowsLogon("admin", nt_hash="aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0")
    assert "31d6" not in repr(hashed) and hashed.hashes()[1] == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert logon.account == "CLINIC\\admin" and logon.hashes() == ("", "")
    for bad in ({"password": None}, {"password": "x", "nt_hash": "0" * 32}, {"nt_hash": "zz"}):
        with pytest.raises(ValueError):
            WindowsLogon("admin", **bad)


@pytest.mark.parametrize("fixture, supported", [
    ("os-windows-10-22h2-pro", False), ("os-windows-11-23h2-enterprise", True),
    ("os-windows-server-2019-standard", True), ("os-windows-7-sp1-pro", False),
])
def test_os_ids_are_known_to_the_end_of_support_table(fixture: str, supported: bool) -> None:
    from datetime import date

    from checks.endpoint.eol import support_status

    status = support_status(parse.os_from_registry(reg(fixture)), date(2026, 11, 1))
    assert status.supported is supported, status.detail


def test_hotfix_install_dates_give_the_last_install() -> None:
    from datetime import UTC, datetime

    from checks.endpoint.windows.maintenance import patches_from

    patches = patches_from(None, wmi("qfe"))  # an empty InstalledOn is skipped, not guessed
    assert patches.last_install == datetime(2026, 11, 12, tzinfo=UTC) and not patches.pending_known
