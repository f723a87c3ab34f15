"""Linux parsers (checks/endpoint/linux.py) on outputs recorded from the lab laptops and on
hand-written listings in the same formats. A parser that cannot decide must raise Unknown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.endpoint import linux
from checks.endpoint.commands import Command, CommandResult
from checks.endpoint.inventory import EncryptionState, Unknown
from checks.endpoint.probe import assemble

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "endpoint" / "linux"


def recorded(name: str) -> dict[str, CommandResult]:
    raw = json.loads((FIXTURES / f"lab-laptop-{name}.json").read_text())
    out = {}
    for key, item in raw.items():
        cmd = Command(key, tuple(item["argv"]), root=bool(item.get("root")))
        out[key] = CommandResult(cmd, item["exit_status"], item["stdout"], item["stderr"],
                                 not_run=item.get("not_run"))
    return out


def result(key: str, stdout: str, status: int | None = 0, stderr: str = "") -> CommandResult:
    return CommandResult(Command(key, (key,)), status, stdout, stderr)


def test_weak_laptop_recording_gives_the_planted_state() -> None:
    inv = assemble(linux, recorded("weak"), collector="ssh", account="gslab")
    # Recorded before issue 20: the backup, patch, account and software commands are not in it.
    assert {s for s, _ in inv.missing} <= {"backup", "patches", "accounts", "software"}
    assert inv.disk is not None and inv.firewall is not None and inv.screen_lock is not None
    states = {v.mountpoint: v.state for v in inv.disk.volumes}
    assert states == {"/": EncryptionState.NOT_ENCRYPTED, "/srv/patient-data": EncryptionState.NOT_ENCRYPTED}
    assert inv.firewall.enabled is False
    assert inv.screen_lock.lock_enabled is False
    assert inv.os is not None and (inv.os.product_id, inv.os.version) == ("debian", "10")
    assert inv.antimalware is not None and inv.antimalware.products == ()
    assert inv.sync_clients is not None
    assert {s.client for s in inv.sync_clients.seen} >= {"Dropbox"}


def test_good_laptop_recording_gives_the_hardened_state() -> None:
    inv = assemble(linux, recorded("good"), collector="ssh", account="gslab")
    assert inv.disk is not None and inv.firewall is not None and inv.screen_lock is not None
    assert {v.mountpoint: v.state for v in inv.disk.volumes} == {
        "/": EncryptionState.ENCRYPTED, "[SWAP]": EncryptionState.ENCRYPTED}  # /boot and /boot/efi left out
    assert inv.firewall.enabled is True and "policy drop" in inv.firewall.detail
    assert (inv.screen_lock.lock_enabled, inv.screen_lock.idle_seconds) == (True, 300)
    assert inv.antimalware is not None and [p.name for p in inv.antimalware.products] == ["ClamAV"]
    assert inv.sync_clients is not None and inv.sync_clients.seen == ()


def test_crypt_method_from_cryptsetup_status() -> None:
    results = recorded("good")
    results["cryptsetup:luks-3f6c2a1e"] = result("cryptsetup", "/dev/mapper/luks-3f6c2a1e is active and is in use.\n"
                                                 "  type:    LUKS2\n  cipher:  aes-xts-plain64\n  keysize: 512 bits\n")
    disk = linux.parse_disk(results)
    assert {v.method for v in disk.volumes} == {"LUKS2 aes-xts-plain64 512 bits"}


def test_data_only_encryption_fails_the_root() -> None:
    listing = {"blockdevices": [{"name": "sda", "type": "disk", "mountpoint": None, "children": [
        {"name": "sda1", "type": "part", "fstype": "ext4", "mountpoint": "/"},
        {"name": "sda2", "type": "part", "fstype": "crypto_LUKS", "mountpoint": None, "children": [
            {"name": "data", "type": "crypt", "fstype": "ext4", "mountpoint": "/srv"}]}]}]}
    disk = linux.parse_disk({"lsblk": result("lsblk", json.dumps(listing))})
    assert {v.mountpoint: v.state for v in disk.volumes} == {
        "/": EncryptionState.NOT_ENCRYPTED, "/srv": EncryptionState.ENCRYPTED}


def test_root_not_on_a_listed_device_is_unknown_not_pass() -> None:
    listing = {"blockdevices": [{"name": "sda", "type": "disk", "mountpoint": None}]}
    findmnt = result("findmnt", json.dumps({"filesystems": [{"target": "/", "source": "rpool/ROOT", "fstype": "zfs"}]}))
    disk = linux.parse_disk({"lsblk": result("lsblk", json.dumps(listing)), "findmnt": findmnt})
    (root,) = disk.volumes
    assert root.state is EncryptionState.UNKNOWN and "rpool/ROOT (zfs)" in root.note


@pytest.mark.parametrize("stdout, status", [("", 127), ("not json", 0), ('{"other": []}', 0)])
def test_unusable_lsblk_is_unknown(stdout: str, status: int) -> None:
    with pytest.raises(Unknown):
        linux.parse_disk({"lsblk": result("lsblk", stdout, status)})


def test_snap_squashfs_and_boot_are_not_judged() -> None:
    listing = {"blockdevices": [
        {"name": "loop3", "type": "loop", "fstype": "squashfs", "mountpoint": "/snap/core/1"},
        {"name": "vda", "type": "disk", "children": [
            {"name": "vda1", "type": "part", "mountpoint": "/boot/efi"},
            {"name": "vda2", "type": "part", "mountpoint": "/"}]}]}
    disk = linux.parse_disk({"lsblk": result("lsblk", json.dumps(listing))})
    assert [v.mountpoint for v in disk.volumes] == ["/"]


NFT_ACCEPT_ONLY = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t}
}
"""
NFT_REJECT_RULE = """table ip filter {
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 22 accept
\t\tcounter reject
\t}
}
"""


def test_firewall_accept_everything_is_off_and_reject_rules_are_on() -> None:
    off = linux.parse_firewall({"nft": result("nft", NFT_ACCEPT_ONLY)})
    assert off.enabled is False and "accept" in off.detail
    on = linux.parse_firewall({"nft": result("nft", NFT_REJECT_RULE)})
    assert on.enabled is True and "ip filter INPUT" in on.detail


def test_firewall_ufw_active_and_unreadable_ruleset() -> None:
    ufw = linux.parse_firewall({"ufw": result("ufw", "Status: active\n\nTo Action From\n"),
                                "nft": result("nft", "", None)})
    assert ufw.enabled is True
    not_run = CommandResult(Command("nft", ("nft", "list", "ruleset"), root=True), None,
                            not_run="needs root; this credential does not allow sudo")
    with pytest.raises(Unknown, match="needs root"):
        linux.parse_firewall({"nft": not_run})


def test_screen_lock_headless_is_not_applicable_and_odd_output_is_unknown() -> None:
    headless = linux.parse_screen_lock({"sessions": result("sessions", "", 2)})
    assert headless.not_applicable
    with pytest.raises(Unknown):
        linux.parse_screen_lock({"sessions": result("sessions", "/usr/share/xsessions:\ngnome.desktop\n"),
                                 "gnome_lock": result("gnome_lock", "wahr\n"),
                                 "gnome_idle": result("gnome_idle", "uint32 300\n")})
    with pytest.raises(Unknown, match="only GNOME and KDE Plasma"):
        linux.parse_screen_lock({"sessions": result("sessions", "/usr/share/xsessions:\nxfce.desktop\n")})


PLASMA = "/usr/share/wayland-sessions:\nplasma.desktop\n"


@pytest.mark.parametrize("files, lock, idle", [
    ("", True, 305),  # no file anywhere: kscreenlocker's defaults (Autolock, 5 min, 5 s grace)
    ("[Daemon]\nAutolock=false\n", False, 305),
    ("[Daemon]\nTimeout=10\n[Daemon]\nTimeout=30\nLockGrace=0\n", True, 1800),  # the account's file wins
    ("[Greeter]\nTimeout=1\n", True, 305),  # another group: not the locker's timeout
])
def test_kde_plasma_screen_lock(files: str, lock: bool, idle: int) -> None:
    got = linux.parse_screen_lock({"sessions": result("sessions", PLASMA),
                                   "kde_lock": result("kde_lock", files, 1 if not files else 0)})
    assert (got.lock_enabled, got.idle_seconds) == (lock, idle)
    assert "KDE Plasma" in got.source


def test_kde_plasma_odd_values_are_unknown() -> None:
    with pytest.raises(Unknown):
        linux.parse_screen_lock({"sessions": result("sessions", PLASMA),
                                 "kde_lock": result("kde_lock", "[Daemon]\nTimeout=fünf\n")})
    with pytest.raises(Unknown):
        linux.parse_screen_lock({"sessions": result("sessions", PLASMA)})


def test_screen_lock_idle_plus_delay() -> None:
    lock = linux.parse_screen_lock({"sessions": result("sessions", "/usr/share/xsessions:\nubuntu.desktop\n"),
                                    "gnome_lock": result("gnome_lock", "true\n"),
                                    "gnome_idle": result("gnome_idle", "uint32 600\n"),
                                    "gnome_delay": result("gnome_delay", "uint32 900\n")})
    assert lock.idle_seconds == 1500


def test_os_release_without_id_is_unknown() -> None:
    with pytest.raises(Unknown):
        linux.parse_os({"os_release": result("os_release", "NAME=Something\n")})


def test_followups_only_use_safe_words() -> None:
    results = recorded("good")
    results["homes"] = result("homes", "alice\nbob smith\n$(reboot)\n")
    commands = linux.followups(results, "/home/gslab")
    keys = [c.key for c in commands]
    assert "cryptsetup:luks-3f6c2a1e" in keys
    sync = next(c for c in commands if c.key == "sync_paths")
    assert "/home/alice/.dropbox-dist" in sync.argv
    kde = next(c for c in commands if c.key == "kde_lock")
    assert kde.argv == ("cat", "/etc/xdg/kscreenlockerrc", "/home/gslab/.config/kscreenlockerrc")
    assert not any("reboot" in w or "smith" in w for w in sync.argv)


def test_sync_paths_in_a_private_home_are_no_verdict() -> None:
    results = recorded("good")
    paths = results["sync_paths"]
    results["sync_paths"] = CommandResult(paths.command, 2, paths.stdout,
                                          "ls: cannot access '/home/alice/.dropbox-dist': Permission denied\n")
    with pytest.raises(Unknown, match=r"permission denied listing /home/alice/\.dropbox-dist"):
        linux.parse_sync_clients(results)
    command = next(c for c in linux.followups(recorded("good"), "/home/gslab") if c.key == "sync_paths")
    assert command.prefer_root and not command.root


def test_gsettings_memory_backend_defaults_are_no_verdict() -> None:
    warning = ("GLib-GIO-Message: 12:00:00.000: Using the 'memory' GSettings backend.  Your settings will not be "
               "saved or shared with other applications.\n")
    with pytest.raises(Unknown, match="memory"):
        linux.parse_screen_lock({"sessions": result("sessions", "/usr/share/xsessions:\ngnome.desktop\n"),
                                 "gnome_lock": result("gnome_lock", "true\n", stderr=warning),
                                 "gnome_idle": result("gnome_idle", "uint32 300\n", stderr=warning)})
