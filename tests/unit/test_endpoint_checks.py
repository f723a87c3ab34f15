"""The endpoint checks and cloudsync.client_installed judged on hand-built facts (pure), and the
host-key store (trust on first use, known, changed, strict)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import paramiko
import pytest

from checks.cloudsync.client_installed import SyncClientInstalled
from checks.endpoint import hostkeys
from checks.endpoint.antimalware import AntiMalwareMissing
from checks.endpoint.disk_encryption import DiskEncryptionOff
from checks.endpoint.firewall import FirewallOff
from checks.endpoint.host_key import SshHostKeyChanged
from checks.endpoint.hostkeys import HostKeyCheck, KeyStatus
from checks.endpoint.inventory import (
    AntiMalware,
    AntiMalwareProduct,
    DiskEncryption,
    EncryptionState,
    EndpointInventory,
    Firewall,
    Observation,
    OsFamily,
    OsInfo,
    ScreenLock,
    SyncClients,
    SyncClientSeen,
    Volume,
)
from checks.endpoint.os_unsupported import OsUnsupported
from checks.endpoint.probe import EndpointCollector, EndpointFacts
from checks.endpoint.screen_lock import ScreenLockMissing
from scanner.check import Check
from scanner.models import ErrorReason, Finding, Skip, SkipReason, Target, ThirdPartyKind, Undetermined

TARGET = Target(host="192.0.2.40")
OBS = (Observation(source="ssh: test", output="recorded"),)


def inventory(**sections: Any) -> EndpointInventory:
    base: dict[str, Any] = {"os": None, "disk": None, "screen_lock": None, "firewall": None, "antimalware": None,
                            "sync_clients": None}
    base.update(sections)
    missing = tuple((k, "not collected in this test") for k, v in base.items() if v is None)
    return EndpointInventory(collector="ssh", missing=missing, account="tech", **base)


def facts(inv: EndpointInventory | None = None, **kw: Any) -> dict[Any, Any]:
    ep = EndpointFacts(host=TARGET.host or "", credential="credential 'x'",
                       inventory=inv, **kw)
    return {EndpointCollector: ep}


def run(check: Check, f: dict[Any, Any]) -> list[Finding | Skip | Undetermined]:
    return list(check.evaluate(TARGET, f))


def test_no_credentials_is_a_skip_for_every_endpoint_check() -> None:
    for check in (DiskEncryptionOff(), ScreenLockMissing(), FirewallOff(), AntiMalwareMissing(), OsUnsupported(),
                  SshHostKeyChanged(), SyncClientInstalled()):
        (item,) = run(check, facts(no_credentials="no credential set covers 192.0.2.40"))
        assert isinstance(item, Skip) and item.reason is SkipReason.NO_CREDENTIALS


def test_refused_host_key_makes_the_others_errors() -> None:
    check = HostKeyCheck("192.0.2.40", "ssh-ed25519", "SHA256:new", KeyStatus.CHANGED, "SHA256:old", "store")
    f = facts(None, host_key=check, refused="host key changed; refused to log on")
    (item,) = run(DiskEncryptionOff(), f)
    assert isinstance(item, Undetermined) and item.reason is ErrorReason.HOST_KEY_REFUSED
    (key,) = run(SshHostKeyChanged(), f)
    assert isinstance(key, Finding) and not key.passed and "SHA256:old" in key.detail


def test_missing_section_is_an_error_with_a_fitting_reason() -> None:
    inv = replace(inventory(), missing=(("firewall", "nft list ruleset: needs root; this credential does not allow "
                                                     "sudo"), ("disk", "lsblk: command not found on the endpoint")))
    (fw,) = run(FirewallOff(), facts(inv))
    assert isinstance(fw, Undetermined) and fw.reason is ErrorReason.PERMISSION
    (disk,) = run(DiskEncryptionOff(), facts(inv))
    assert isinstance(disk, Undetermined) and disk.reason is ErrorReason.MISSING_DEPENDENCY


def test_disk_one_result_per_volume_and_unknown_is_never_pass() -> None:
    disk = DiskEncryption(volumes=(
        Volume("C:", "C:", EncryptionState.ENCRYPTED, method="XTS-AES 128"),
        Volume("D:", "D:", EncryptionState.SUSPENDED),
        Volume("E:", "E:", EncryptionState.IN_PROGRESS),
        Volume("F:", "F:", EncryptionState.UNKNOWN, note="locked"),
    ), observations=OBS)
    items = run(DiskEncryptionOff(), facts(inventory(disk=disk)))
    verdicts = {i.discriminator: (i.passed if isinstance(i, Finding) else "error") for i in items}  # type: ignore[union-attr]
    assert verdicts == {"C:": True, "D:": False, "E:": False, "F:": "error"}
    assert "SUSPENDED" in next(i.detail for i in items if i.discriminator == "D:")  # type: ignore[union-attr]


@pytest.mark.parametrize("lock, idle, passed", [(False, 60, False), (True, None, False), (True, 1200, False),
                                                (True, 900, True), (True, 300, True)])
def test_screen_lock_against_the_limit(lock: bool, idle: int | None, passed: bool) -> None:
    sl = ScreenLock(OBS, lock_enabled=lock, idle_seconds=idle, source="test")
    (item,) = run(ScreenLockMissing(), facts(inventory(screen_lock=sl)))
    assert isinstance(item, Finding) and item.passed is passed


def test_unreported_states_and_section_unknowns_are_errors() -> None:
    (fw,) = run(FirewallOff(), facts(inventory(firewall=Firewall(OBS, enabled=None))))
    assert isinstance(fw, Undetermined)
    (sl,) = run(ScreenLockMissing(), facts(inventory(screen_lock=ScreenLock(OBS, lock_enabled=None))))
    assert isinstance(sl, Undetermined)
    unknown = SyncClients((), OBS, unknown="Uninstall key not readable (access denied)")
    (sc,) = run(SyncClientInstalled(), facts(inventory(sync_clients=unknown)))
    assert isinstance(sc, Undetermined) and sc.reason is ErrorReason.PERMISSION


def test_screen_lock_headless_is_not_applicable() -> None:
    (item,) = run(ScreenLockMissing(), facts(inventory(screen_lock=ScreenLock(OBS, not_applicable="no desktop"))))
    assert isinstance(item, Skip) and item.reason is SkipReason.NOT_APPLICABLE


def test_antimalware_running_stale_and_stopped() -> None:
    def judge(*products: AntiMalwareProduct) -> Finding:
        (item,) = run(AntiMalwareMissing(), facts(inventory(antimalware=AntiMalware(products, OBS))))
        assert isinstance(item, Finding)
        return item

    assert judge().passed is False
    assert judge(AntiMalwareProduct("Defender", running=False)).passed is False
    assert judge(AntiMalwareProduct("Defender", running=True, up_to_date=False)).passed is False
    assert judge(AntiMalwareProduct("Defender", running=True, up_to_date=True)).passed is True


def test_firewall_verdicts() -> None:
    (off,) = run(FirewallOff(), facts(inventory(firewall=Firewall(OBS, enabled=False, detail="empty ruleset"))))
    (on,) = run(FirewallOff(), facts(inventory(firewall=Firewall(OBS, enabled=True, detail="policy drop"))))
    assert isinstance(off, Finding) and not off.passed and isinstance(on, Finding) and on.passed


def test_os_support_from_the_table_and_unknown_release_is_error() -> None:
    old = OsInfo(OsFamily.LINUX, "Debian GNU/Linux 9", "debian", "9", observations=OBS)
    (item,) = run(OsUnsupported(), facts(inventory(os=old)))
    assert isinstance(item, Finding) and not item.passed
    odd = OsInfo(OsFamily.LINUX, "Hobby OS 1", "hobbyos", "1", observations=OBS)
    (unknown,) = run(OsUnsupported(), facts(inventory(os=odd)))
    assert isinstance(unknown, Undetermined)


def test_os_support_is_judged_on_the_day_of_collection_not_of_judging() -> None:
    # Debian 10 was in Debian LTS until 2024-06-30: read on 2023-05-01 it was supported; the same
    # reading judged today (long after) still says so, because the check is pure.
    from datetime import UTC, datetime

    when = datetime(2023, 5, 1, 9, 0, tzinfo=UTC)
    buster = OsInfo(OsFamily.LINUX, "Debian GNU/Linux 10", "debian", "10",
                    observations=(Observation(source="ssh: cat /etc/os-release", output="10", collected_at=when),))
    (then,) = run(OsUnsupported(), facts(inventory(os=buster)))
    assert isinstance(then, Finding) and then.passed and then.evidence[0].collected_at == when
    later = OsInfo(OsFamily.LINUX, "Debian GNU/Linux 10", "debian", "10",
                   observations=(Observation(source="ssh: cat /etc/os-release", output="10",
                                             collected_at=datetime(2024, 7, 1, tzinfo=UTC)),))
    (now,) = run(OsUnsupported(), facts(inventory(os=later)))
    assert isinstance(now, Finding) and not now.passed
    # No observation at all: the inventory's own collection time, never the wall clock.
    bare = OsInfo(OsFamily.LINUX, "Debian GNU/Linux 10", "debian", "10", observations=())
    (fixed,) = run(OsUnsupported(), facts(replace(inventory(os=bare), collected_at=when)))
    assert isinstance(fixed, Finding) and fixed.passed


def test_sync_clients_one_fail_per_client_with_how_it_was_seen() -> None:
    seen = SyncClients(seen=(SyncClientSeen("Dropbox", "process", "dropbox"),
                             SyncClientSeen("Dropbox", "install path", "/home/a/.dropbox-dist"),
                             SyncClientSeen("MEGA", "autostart entry", "megasync.desktop")), observations=OBS)
    items = run(SyncClientInstalled(), facts(inventory(sync_clients=seen)))
    assert [(i.discriminator, i.passed) for i in items] == [("Dropbox", False), ("MEGA", False)]  # type: ignore[union-attr]
    assert "process: dropbox" in items[0].detail and "Business Associate Agreement" in items[0].detail
    (none,) = run(SyncClientInstalled(), facts(inventory(sync_clients=SyncClients((), OBS))))
    assert isinstance(none, Finding) and none.passed


def _key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate(bits=256)


def test_host_key_store_tofu_known_changed_strict(tmp_path: Path) -> None:
    store = tmp_path / "known_hosts"
    first, other = _key(), _key()
    assert hostkeys.verify("192.0.2.40", 22, first, store=store).status is KeyStatus.FIRST_USE
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert hostkeys.verify("192.0.2.40", 22, first, store=store).status is KeyStatus.KNOWN
    changed = hostkeys.verify("192.0.2.40", 22, other, store=store)
    assert changed.status is KeyStatus.CHANGED and changed.recorded_fingerprint == hostkeys.fingerprint(first)
    assert store.read_text().count("192.0.2.40") == 1  # never overwritten
    assert hostkeys.verify("[192.0.2.40]:2222", 2222, other, store=store, tofu=False).status is \
        KeyStatus.UNKNOWN_REFUSED
    extra = tmp_path / "user_known_hosts"
    extra.write_text(f"192.0.2.41 {other.get_name()} {other.get_base64()}\n")
    assert hostkeys.verify("192.0.2.41", 22, other, store=store, extra=extra, tofu=False).status is KeyStatus.KNOWN
    # The user's file names 192.0.2.41 with `other`: the store's differing record does not count.
    store.write_text(store.read_text() + f"192.0.2.41 {first.get_name()} {first.get_base64()}\n")
    assert hostkeys.verify("192.0.2.41", 22, other, store=store, extra=extra).status is KeyStatus.KNOWN
    assert hostkeys.verify("192.0.2.41", 22, first, store=store, extra=extra).status is KeyStatus.CHANGED


def test_an_installed_client_names_its_vendor_and_a_pass_names_none() -> None:
    seen = SyncClients(seen=(SyncClientSeen("Google Drive for desktop", "uninstall entry", "x"),
                             SyncClientSeen("Syncthing", "install path", "/usr/bin/syncthing")), observations=OBS)
    drive, syncthing = run(SyncClientInstalled(), facts(inventory(sync_clients=seen)))
    (ok,) = run(SyncClientInstalled(), facts(inventory(sync_clients=SyncClients((), OBS))))
    assert isinstance(drive, Finding) and isinstance(syncthing, Finding) and isinstance(ok, Finding)
    assert [(p.vendor, p.kind) for p in drive.third_parties] == [("Google Drive for desktop", ThirdPartyKind.VENDOR)]
    assert [(p.vendor, p.kind) for p in syncthing.third_parties] == [("Syncthing", ThirdPartyKind.PEER_TO_PEER)]
    assert ok.passed and ok.third_parties == ()


def test_the_profile_limit_reaches_the_check_and_the_probe_says_when_no_credential_covers_a_host() -> None:
    from checks.endpoint.screen_lock import ScreenLockSettings
    from scanner.check import ProbeContext, TimeoutConfig
    from scanner.credentials import CredentialStore

    sl = ScreenLock(OBS, lock_enabled=True, idle_seconds=600, source="test")
    (strict,) = run(ScreenLockMissing(ScreenLockSettings(max_minutes=5)), facts(inventory(screen_lock=sl)))
    (default,) = run(ScreenLockMissing(), facts(inventory(screen_lock=sl)))
    assert isinstance(strict, Finding) and not strict.passed and "5 min limit" in strict.detail
    assert isinstance(default, Finding) and default.passed and "15 min limit" in default.detail
    ctx = ProbeContext(timeouts=TimeoutConfig(), credentials=CredentialStore(credentials=(), source="creds.yaml"))
    got = EndpointCollector().collect(TARGET, ctx)
    assert got.inventory is None
    assert got.no_credentials == "no credential set in creds.yaml covers 192.0.2.40"
    bare = EndpointCollector().collect(TARGET, ProbeContext(timeouts=TimeoutConfig()))
    assert "no --credentials" in (bare.no_credentials or "")


def test_report_groups_identical_skips_and_says_which_hosts_were_logged_on_to() -> None:
    from reports import view
    from scanner.models import CheckResult, Severity, Status
    from tests.unit.test_store import lab_run

    base = lab_run()

    def result(host: str, status: Status, reason: str | None, detail: str) -> CheckResult:
        target = Target(host=host)
        return CheckResult(check_id="endpoint.firewall_off", status=status, severity=Severity.MEDIUM,
                           title="Host firewall is off", target=target, detail=detail, fingerprint=host,
                           reason=reason)

    extra = [result(h, Status.SKIPPED, "no_credentials", f"no credential set in c.yaml covers {h}")
             for h in ("192.0.2.1", "192.0.2.2", "192.0.2.3")]
    extra += [result("192.0.2.9", Status.FAIL, None, "192.0.2.9: host firewall OFF"),
              result("192.0.2.8", Status.ERROR, "auth_failed", "SSH logon failed")]
    run = base.model_copy(update={"results": (*base.results, *extra)})
    groups = [g for g in view.grouped_skips(run) if "endpoint.firewall_off" in g.check_ids]
    assert len(groups) == 1 and groups[0].targets == ("192.0.2.1", "192.0.2.2", "192.0.2.3")
    assert groups[0].check_ids == ("endpoint.firewall_off",)
    assert groups[0].detail == "no credential set in c.yaml covers this host"
    assert view.credentialed_hosts(run) == ["192.0.2.9"]
    assert view.credentialed_hosts(base) == []
