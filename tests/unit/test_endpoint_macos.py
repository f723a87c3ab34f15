"""macOS parsers on transcribed output formats (tests/fixtures/endpoint/macos/README.md says where
each comes from). Unrecognised or non-English output must raise Unknown, never a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.endpoint import macos
from checks.endpoint.commands import _SAFE_WORD, CommandResult
from checks.endpoint.inventory import EncryptionState, OsFamily, Unknown

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "endpoint" / "macos"
COMMANDS = {c.key: c for c in macos.COMMANDS}


def fx(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def res(key: str, stdout: str = "", stderr: str = "", status: int | None = 0,
        not_run: str | None = None) -> CommandResult:
    return CommandResult(command=COMMANDS[key], exit_status=status, stdout=stdout, stderr=stderr, not_run=not_run)


# --- commands -------------------------------------------------------------------------------


def test_commands_are_read_only_words_without_home_or_spaces() -> None:
    keys = [c.key for c in macos.COMMANDS]
    assert len(keys) == len(set(keys))
    for command in macos.COMMANDS:
        assert not command.root
        for word in command.argv:
            assert _SAFE_WORD.match(word) and "~" not in word
    probe = COMMANDS["sync_paths"].argv
    assert probe[:2] == ("ls", "-d") and "/Applications/Dropbox.app" in probe


# --- sw_vers --------------------------------------------------------------------------------


def test_os_sonoma() -> None:
    info = macos.parse_os({"sw_vers": res("sw_vers", fx("sw_vers_14.txt"))})
    assert (info.family, info.product_id, info.version, info.build) == (OsFamily.MACOS, "macos", "14.6.1", "23G93")
    assert info.name == "macOS 14.6.1"
    assert info.observations[0].source == "ssh: sw_vers"


def test_os_catalina_and_rapid_security_response() -> None:
    old = macos.parse_os({"sw_vers": res("sw_vers", fx("sw_vers_10_15.txt"))})
    assert (old.version, old.name) == ("10.15.7", "Mac OS X 10.15.7")
    rsr = macos.parse_os({"sw_vers": res("sw_vers", fx("sw_vers_13_rsr.txt"))})
    assert (rsr.version, rsr.name, rsr.build) == ("13.4.1", "macOS 13.4.1 (a)", "22F770820d")


@pytest.mark.parametrize("text", ["", "ProductName: Ubuntu\nProductVersion: 22.04\n", "Produktversion: 14.6\n"])
def test_os_unrecognised_is_unknown(text: str) -> None:
    with pytest.raises(Unknown):
        macos.parse_os({"sw_vers": res("sw_vers", text)})


def test_os_missing_or_failed_is_unknown() -> None:
    with pytest.raises(Unknown, match="not collected"):
        macos.parse_os({})
    with pytest.raises(Unknown, match="not found"):
        macos.parse_os({"sw_vers": res("sw_vers", status=127)})


# --- FileVault ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "state"), [
    ("fdesetup_on.txt", EncryptionState.ENCRYPTED),
    ("fdesetup_off.txt", EncryptionState.NOT_ENCRYPTED),
    ("fdesetup_encrypting.txt", EncryptionState.IN_PROGRESS),
    ("fdesetup_decrypting.txt", EncryptionState.IN_PROGRESS),
    ("fdesetup_deferred.txt", EncryptionState.NOT_ENCRYPTED),
])
def test_filevault_states(name: str, state: EncryptionState) -> None:
    disk = macos.parse_disk({"fdesetup": res("fdesetup", fx(name))})
    (volume,) = disk.volumes
    assert (volume.name, volume.mountpoint, volume.method, volume.state) == ("boot volume", "/", "FileVault", state)
    assert disk.observations and disk.unknown is None


def test_filevault_progress_notes() -> None:
    enc = macos.parse_disk({"fdesetup": res("fdesetup", fx("fdesetup_encrypting.txt"))}).volumes[0]
    assert "encryption in progress, 37% completed" in enc.note
    dec = macos.parse_disk({"fdesetup": res("fdesetup", fx("fdesetup_decrypting.txt"))}).volumes[0]
    assert dec.note.startswith("decryption in progress")
    pending = macos.parse_disk({"fdesetup": res("fdesetup", "FileVault is On.\nEncryption in progress: Pending\n")})
    assert pending.volumes[0].state is EncryptionState.IN_PROGRESS and "pending" in pending.volumes[0].note
    deferred = macos.parse_disk({"fdesetup": res(
        "fdesetup", "FileVault is Off.\nDeferred enablement appears to be active for user 'alice'.\n")})
    assert deferred.volumes[0].state is EncryptionState.NOT_ENCRYPTED and "deferred" in deferred.volumes[0].note


@pytest.mark.parametrize("text", [
    "fdesetup_german_invented.txt", "FileVault is On, but needs to be restarted to finish.\n", "", "FileVault is\n"])
def test_filevault_unrecognised_is_unknown(text: str) -> None:
    stdout = fx(text) if text.endswith(".txt") else text
    with pytest.raises(Unknown):
        macos.parse_disk({"fdesetup": res("fdesetup", stdout)})


def test_filevault_not_run_is_unknown() -> None:
    with pytest.raises(Unknown, match="timed out"):
        macos.parse_disk({"fdesetup": res("fdesetup", status=None, not_run="timed out after 20 s")})


# --- screen lock ----------------------------------------------------------------------------


def lock_results(lock: str, idle: str | None = "idletime_600.txt", pmset: str | None = "pmset_g.txt"
                 ) -> dict[str, CommandResult]:
    out = {"screenlock": res("screenlock", stderr=fx(lock))}
    if idle == "missing":
        out["idletime"] = res("idletime", stderr=fx("idletime_missing_stderr.txt"), status=1)
    elif idle is not None:
        out["idletime"] = res("idletime", fx(idle))
    if pmset is not None:
        out["pmset"] = res("pmset", fx(pmset))
    return out


def test_screen_lock_delay_plus_shortest_idle_trigger() -> None:
    # screen saver 600 s, display sleep 10 min = 600 s, password 300 s later -> locked after 900 s
    lock = macos.parse_screen_lock(lock_results("screenlock_delay_300.txt"))
    assert (lock.lock_enabled, lock.idle_seconds) == (True, 900)
    assert len(lock.observations) == 3 and "password 300 s" in lock.source


def test_screen_lock_immediate_uses_display_sleep_when_shorter() -> None:
    results = lock_results("screenlock_immediate.txt")
    results["idletime"] = res("idletime", "1200\n")
    lock = macos.parse_screen_lock(results)
    assert (lock.lock_enabled, lock.idle_seconds) == (True, 600)


def test_screen_lock_off() -> None:
    lock = macos.parse_screen_lock(lock_results("screenlock_off.txt"))
    assert lock.lock_enabled is False and lock.idle_seconds is None


def test_screen_lock_never_triggers() -> None:
    lock = macos.parse_screen_lock(lock_results("screenlock_immediate.txt", "idletime_0.txt", "pmset_g_never.txt"))
    assert lock.lock_enabled is True and lock.idle_seconds is None
    assert "screen saver never" in lock.source and "display never sleeps" in lock.source


def test_screen_lock_unset_idle_time_is_upper_bound_from_display_sleep() -> None:
    lock = macos.parse_screen_lock(lock_results("screenlock_delay_300.txt", idle="missing"))
    assert lock.idle_seconds == 900 and "upper bound" in lock.source


def test_screen_lock_unset_idle_time_without_display_sleep_is_unknown() -> None:
    # No Apple-documented default for idleTime: we do not assume CIS's "20 minutes".
    with pytest.raises(Unknown, match="idleTime not set"):
        macos.parse_screen_lock(lock_results("screenlock_delay_300.txt", idle="missing", pmset=None))


def test_screen_lock_screen_saver_never_and_no_display_sleep_reading_is_unknown() -> None:
    with pytest.raises(Unknown):
        macos.parse_screen_lock(lock_results("screenlock_immediate.txt", "idletime_0.txt", pmset=None))


@pytest.mark.parametrize("bad", ["screenlock_german_invented.txt"])
def test_screen_lock_unrecognised_is_unknown(bad: str) -> None:
    with pytest.raises(Unknown, match="unrecognised"):
        macos.parse_screen_lock(lock_results(bad))


def test_screen_lock_bad_idle_value_or_failure_is_unknown() -> None:
    results = lock_results("screenlock_delay_300.txt")
    results["idletime"] = res("idletime", "ten minutes\n")
    with pytest.raises(Unknown, match="not a number"):
        macos.parse_screen_lock(results)
    results["idletime"] = res("idletime", stderr="permission denied", status=1)
    with pytest.raises(Unknown):
        macos.parse_screen_lock(results)
    del results["idletime"]
    with pytest.raises(Unknown, match="not collected"):
        macos.parse_screen_lock(results)


# --- firewall -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "enabled", "detail"), [
    ("firewall_on.txt", True, "enabled (State = 1)"),
    ("firewall_off.txt", False, "disabled (State = 0)"),
    ("firewall_block_all.txt", True, "State = 2, block all incoming"),
    ("firewall_no_state.txt", True, "Application Firewall enabled"),
])
def test_firewall_states(name: str, enabled: bool, detail: str) -> None:
    fw = macos.parse_firewall({"firewall": res("firewall", fx(name))})
    assert fw.enabled is enabled and detail in fw.detail and fw.observations


@pytest.mark.parametrize("text", [
    "firewall_french_invented.txt", "", "Firewall is enabled. (State = 0)\n", "Firewall is enabled. (State = 7)\n"])
def test_firewall_unrecognised_or_contradictory_is_unknown(text: str) -> None:
    stdout = fx(text) if text.endswith(".txt") else text
    with pytest.raises(Unknown):
        macos.parse_firewall({"firewall": res("firewall", stdout)})


# --- anti-malware ---------------------------------------------------------------------------


def test_antimalware_xprotect_and_agents() -> None:
    am = macos.parse_antimalware({"ps": res("ps", fx("ps_axco_comm.txt")),
                                  "xprotect": res("xprotect", fx("xprotect_version.txt"))})
    names = [p.name for p in am.products]
    assert names == ["XProtect", "CrowdStrike Falcon", "Microsoft Defender for Endpoint"]
    xp = am.products[0]
    assert xp.running is None and xp.up_to_date is None and "5287" in xp.how and "baseline" in xp.how
    assert am.products[1].running is True and am.products[1].how == "process com.crowdstrike."
    assert len(am.observations) == 2


def test_antimalware_clean_mac_has_only_xprotect_and_xprotect_failure_is_not_fatal() -> None:
    am = macos.parse_antimalware({"ps": res("ps", fx("ps_axco_comm_clean.txt")),
                                  "xprotect": res("xprotect", fx("xprotect_version.txt"))})
    assert [p.name for p in am.products] == ["XProtect"]
    none = macos.parse_antimalware({"ps": res("ps", fx("ps_axco_comm_clean.txt")),
                                    "xprotect": res("xprotect", stderr="does not exist", status=1)})
    assert none.products == ()


def test_antimalware_without_process_list_is_unknown() -> None:
    with pytest.raises(Unknown):
        macos.parse_antimalware({"xprotect": res("xprotect", "5287\n")})
    with pytest.raises(Unknown, match="empty"):
        macos.parse_antimalware({"ps": res("ps", "COMM\n")})


# --- sync clients ---------------------------------------------------------------------------


def sync_results(ps: str = "ps_axco_comm.txt") -> dict[str, CommandResult]:
    return {"ps": res("ps", fx(ps)), "applications": res("applications", fx("ls_applications.txt")),
            "sync_paths": res("sync_paths", fx("ls_d_probe_stdout.txt"), fx("ls_d_probe_stderr.txt"), status=1)}


def test_sync_clients_from_processes_applications_and_probes() -> None:
    found = macos.parse_sync_clients(sync_results())
    seen = {(s.client, s.how, s.where) for s in found.seen}
    assert ("Dropbox", "process", "Dropbox") in seen
    assert ("Google Drive for desktop", "process", "Google Drive") in seen
    assert ("Syncthing", "process", "syncthing") in seen
    assert ("Dropbox", "install path", "/Applications/Dropbox.app") in seen
    assert ("Google Drive for desktop", "install path", "/Applications/Google Drive.app") in seen
    assert ("pCloud Drive", "install path", "/Applications/pCloud Drive.app") in seen
    assert ("Syncthing", "install path", "/opt/homebrew/bin/syncthing") in seen
    assert len(seen) == len(found.seen)  # no duplicates
    assert len(found.observations) == 3


def test_sync_clients_mac_is_not_flagged_for_icloud() -> None:
    found = macos.parse_sync_clients({**sync_results("ps_axco_comm_clean.txt"),
                                      "applications": res("applications", "Safari.app\nUtilities\n"),
                                      "sync_paths": res("sync_paths", "", fx("ls_d_probe_stderr.txt"), status=1)})
    assert found.seen == ()  # bird/cloudd (iCloud Drive) are part of macOS


def test_sync_clients_probe_not_run_is_unknown() -> None:
    results = sync_results()
    results["sync_paths"] = res("sync_paths", status=None, not_run="timed out after 20 s")
    with pytest.raises(Unknown, match="timed out"):
        macos.parse_sync_clients(results)
    del results["sync_paths"]
    with pytest.raises(Unknown, match="not collected"):
        macos.parse_sync_clients(results)
