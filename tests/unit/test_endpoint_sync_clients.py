"""The consumer sync-client catalogue and its matchers (pure data, no I/O)."""

from __future__ import annotations

import pytest

from checks.endpoint import sync_clients
from checks.endpoint.av_products import match_av_process
from checks.endpoint.commands import _SAFE_WORD
from checks.endpoint.inventory import OsFamily
from checks.endpoint.sync_clients import (
    CLIENTS,
    PROBE_PATHS,
    match_autostart,
    match_path,
    match_process,
    match_uninstall,
)

L, M, W = OsFamily.LINUX, OsFamily.MACOS, OsFamily.WINDOWS


def name(spec: sync_clients.SyncClientSpec | None) -> str | None:
    return spec.name if spec else None


def test_catalogue_shape() -> None:
    names = [c.name for c in CLIENTS]
    assert len(names) == len(set(names))
    for expected in ("Dropbox", "Google Drive for desktop", "OneDrive (personal)", "iCloud for Windows", "Box Drive",
                     "pCloud Drive", "MEGA (MEGAsync)", "Syncthing", "Resilio Sync"):
        assert expected in names
    for spec in CLIENTS:
        assert spec.vendor
        assert set(spec.processes) | set(spec.paths) | set(spec.autostart) <= {L, M, W}


@pytest.mark.parametrize(("proc", "family", "client"), [
    ("dropbox", L, "Dropbox"),
    ("Dropbox", M, "Dropbox"),
    ("DROPBOX.EXE", W, "Dropbox"),
    ("Dropbox", W, "Dropbox"),  # ".exe" tolerated both ways
    ("GoogleDriveFS.exe", W, "Google Drive for desktop"),
    ("googledrivesync.exe", W, "Google Drive for desktop"),
    ("Google Drive", M, "Google Drive for desktop"),
    ("OneDrive.exe", W, "OneDrive (personal)"),
    ("iCloudDrive.exe", W, "iCloud for Windows"),
    ("megasync", L, "MEGA (MEGAsync)"),
    ("MEGAsync.exe", W, "MEGA (MEGAsync)"),
    ("syncthing", L, "Syncthing"),
    ("SyncTrayzor.exe", W, "Syncthing"),
    ("rslsync", L, "Resilio Sync"),
    ("Resilio Sync.exe", W, "Resilio Sync"),
    ("pCloud Drive", M, "pCloud Drive"),
    ("/usr/bin/syncthing", L, "Syncthing"),  # a path is reduced to its base name
])
def test_match_process(proc: str, family: OsFamily, client: str) -> None:
    assert name(match_process(proc, family)) == client


@pytest.mark.parametrize(("proc", "family"), [
    ("bird", M), ("cloudd", M),  # iCloud Drive daemons are macOS itself
    ("GoogleDriveFS.exe", L),  # names are per OS
    ("sshd", L), ("", L), ("Dropboxer", M), ("dropbox.exe", L),
])
def test_match_process_negatives(proc: str, family: OsFamily) -> None:
    assert match_process(proc, family) is None


@pytest.mark.parametrize(("path", "family", "client"), [
    ("/home/alice/.dropbox-dist", L, "Dropbox"),
    ("/home/alice/.dropbox-dist/dropboxd", L, "Dropbox"),
    ("~/.dropbox-dist", L, "Dropbox"),
    ("/root/.dropbox-dist/", L, "Dropbox"),
    ("/opt/dropbox", L, "Dropbox"),
    ("/usr/bin/syncthing", L, "Syncthing"),
    ("/home/bob/.config/syncthing", L, "Syncthing"),
    ("/var/lib/resilio-sync", L, "Resilio Sync"),
    ("/usr/bin/megasync", L, "MEGA (MEGAsync)"),
    ("/Applications/Dropbox.app", M, "Dropbox"),
    ("/Applications/Google Drive.app", M, "Google Drive for desktop"),
    ("/Users/carol/.dropbox", M, "Dropbox"),
    (r"C:\Program Files (x86)\Dropbox\Client\Dropbox.exe", W, "Dropbox"),
    (r"c:\program files\google\drive file stream\98.0\GoogleDriveFS.exe", W, "Google Drive for desktop"),
    (r"C:\Users\dan\AppData\Local\Microsoft\OneDrive", W, "OneDrive (personal)"),
    (r"C:\Users\dan\AppData\Local\MEGAsync\MEGAsync.exe", W, "MEGA (MEGAsync)"),
    (r"C:\Program Files\Common Files\Apple\Internet Services\iCloudServices.exe", W, "iCloud for Windows"),
])
def test_match_path(path: str, family: OsFamily, client: str) -> None:
    assert name(match_path(path, family)) == client


@pytest.mark.parametrize(("path", "family"), [
    ("/home/alice/.dropbox-dist-old", L),
    ("/home/alice/notes/.dropbox-dist", L),  # only directly in a home directory
    ("/home/alice/.dropbox-dist", M),
    ("/opt", L), ("/", L), ("", L),
    (r"C:\Program Files\Dropboxer", W),
    (r"C:\Users\dan\Documents\Dropbox", W),  # a folder named Dropbox is not the install
])
def test_match_path_negatives(path: str, family: OsFamily) -> None:
    assert match_path(path, family) is None


@pytest.mark.parametrize(("entry", "family", "client"), [
    ("dropbox.desktop", L, "Dropbox"),
    ("/home/alice/.config/autostart/dropbox.desktop", L, "Dropbox"),
    ("megasync.desktop", L, "MEGA (MEGAsync)"),
    ("syncthing-start.desktop", L, "Syncthing"),
    ("/usr/lib/systemd/user/syncthing.service", L, "Syncthing"),
    ("resilio-sync.service", L, "Resilio Sync"),
    ("homebrew.mxcl.syncthing.plist", M, "Syncthing"),
    ("homebrew.mxcl.syncthing", M, "Syncthing"),
    ("OneDrive", W, "OneDrive (personal)"),
    ("Dropbox", W, "Dropbox"),
])
def test_match_autostart(entry: str, family: OsFamily, client: str) -> None:
    assert name(match_autostart(entry, family)) == client


def test_match_autostart_negatives() -> None:
    assert match_autostart("gnome-keyring-ssh.desktop", L) is None
    assert match_autostart("dropbox.desktop", M) is None
    assert match_autostart("", L) is None


@pytest.mark.parametrize(("display", "client"), [
    ("Dropbox", "Dropbox"),
    ("Dropbox 250.4.2100", "Dropbox"),
    ("Google Drive", "Google Drive for desktop"),
    ("Backup and Sync from Google", "Google Drive for desktop"),
    ("Microsoft OneDrive", "OneDrive (personal)"),
    ("iCloud", "iCloud for Windows"),
    ("Box", "Box Drive"),
    ("MEGAsync", "MEGA (MEGAsync)"),
    ("Resilio Sync", "Resilio Sync"),
    ("SyncTrayzor (x64)", "Syncthing"),
])
def test_match_uninstall(display: str, client: str) -> None:
    assert name(match_uninstall(display)) == client


@pytest.mark.parametrize("display", ["Boxer Pro", "Microsoft Office 365", "Dropboxer", "",
                                     "Apple Mobile Device Support"])
def test_match_uninstall_negatives(display: str) -> None:
    assert match_uninstall(display) is None


def test_onedrive_is_builtin_on_windows_and_only_a_personal_account_counts() -> None:
    onedrive = match_uninstall("Microsoft OneDrive")
    assert onedrive is not None
    assert onedrive.presence_is_finding(W) is False
    assert onedrive.presence_is_finding(M) is True
    assert onedrive.personal_account_key == "HKCU\\Software\\Microsoft\\OneDrive\\Accounts\\Personal"
    assert [c.name for c in CLIENTS if c.personal_account_key] == ["OneDrive (personal)"]


def test_icloud_is_builtin_on_macos() -> None:
    icloud = match_uninstall("iCloud")
    assert icloud is not None and not icloud.presence_is_finding(M) and icloud.presence_is_finding(W)
    assert M not in icloud.processes and M not in icloud.paths


def test_probe_paths_are_allow_listed_words() -> None:
    assert set(PROBE_PATHS) == {L, M}
    for family, paths in PROBE_PATHS.items():
        assert paths and len(paths) == len(set(paths))
        for path in paths:
            assert path.startswith(("/", "~/")) and " " not in path
            concrete = "/home/alice" + path[1:] if path.startswith("~/") else path
            assert _SAFE_WORD.match(concrete)
            assert match_path(concrete, family) is not None  # every probe would be recognised
    assert "~/.dropbox-dist" in PROBE_PATHS[L] and "/usr/bin/syncthing" in PROBE_PATHS[L]


@pytest.mark.parametrize(("proc", "family", "product"), [
    ("MsMpEng.exe", W, "Microsoft Defender"),
    ("msmpeng", W, "Microsoft Defender"),
    ("wdavdaemon", M, "Microsoft Defender for Endpoint"),
    ("wdavdaemon", L, "Microsoft Defender for Endpoint"),
    ("falcon-sensor", L, "CrowdStrike Falcon"),
    ("com.crowdstrike.", M, "CrowdStrike Falcon"),  # macOS ps -c truncation to 16 characters
    ("com.crowdstrike.falcon.Agent", M, "CrowdStrike Falcon"),
    ("SentinelAgent", M, "SentinelOne"),
    ("clamd", L, "ClamAV"),
])
def test_av_processes(proc: str, family: OsFamily, product: str) -> None:
    assert match_av_process(proc, family) == product


def test_av_process_negatives() -> None:
    assert match_av_process("freshclam", L) is None  # the updater is not protection
    assert match_av_process("clamd", W) is None
    assert match_av_process("com.", M) is None  # short names are not treated as truncated
    assert match_av_process("sshd", L) is None
