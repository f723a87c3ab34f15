"""Catalogue of consumer file-sync clients, and matchers for what a collector saw on an endpoint.

A consumer sync client on a machine that handles PHI copies files to a third party: unless the
practice has a Business Associate Agreement with that vendor (45 CFR 164.308(b)(1), 164.502(e))
the client is a gap. The ``cloudsync.client_installed`` check uses ``vendor`` for the follow-up
("document a BAA with <vendor>").

Data, not logic: one ``SyncClientSpec`` per client. Names come from the vendors' own install
layout and documentation (each entry names where); we list only names we are confident are real,
and leave a field empty rather than guess. Compiled 2026-11-23 from that knowledge: the pages
named were not each re-fetched then, so a client that changed its layout is missed, not misnamed.
Two clients ship with an operating system and so are *not* findings by presence alone:

- **OneDrive on Windows** is part of Windows 10/11. Only a signed-in *personal* account is a
  consumer sync relationship: the Windows collector reads ``personal_account_key``
  (``HKCU\\Software\\Microsoft\\OneDrive\\Accounts\\Personal``, which the OneDrive client creates
  when a personal Microsoft account is signed in; business accounts live under ``Business1`` ...).
- **iCloud Drive on macOS** is built into the OS (the ``bird``/``cloudd`` daemons run on every
  Mac), so a Mac is never flagged for being a Mac; only iCloud *for Windows* is catalogued.

Windows install paths use placeholders for the per-machine folders, matched case-insensitively
against the real path the Windows collector reports: ``{ProgramFiles}`` (``X:\\Program Files``),
``{ProgramFilesX86}`` (``X:\\Program Files (x86)``), ``{AppData}``
(``X:\\Users\\<user>\\AppData\\Roaming``) and ``{LocalAppData}`` (``...\\AppData\\Local``).
Linux/macOS paths may start with ``~``, which matches any home directory (``/home/<user>``,
``/Users/<user>``, ``/root``) as well as a literal ``~``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .av_products import process_matches
from .commands import _SAFE_WORD
from .inventory import OsFamily

L, M, W = OsFamily.LINUX, OsFamily.MACOS, OsFamily.WINDOWS


@dataclass(frozen=True)
class SyncClientSpec:
    """One consumer sync client: how to recognise it on each OS."""

    name: str  # canonical name, used in SyncClientSeen.client
    vendor: str  # who the BAA would be with
    processes: dict[OsFamily, tuple[str, ...]] = field(default_factory=dict)
    paths: dict[OsFamily, tuple[str, ...]] = field(default_factory=dict)
    autostart: dict[OsFamily, tuple[str, ...]] = field(default_factory=dict)  # file names, labels, Run values
    uninstall: tuple[str, ...] = ()  # regexes for Windows Uninstall DisplayName (anchored at the start)
    # Families where the client is part of the OS: being present is not a finding there.
    builtin: frozenset[OsFamily] = frozenset()
    # Windows: the registry key whose existence means a *personal* (consumer) account is configured.
    personal_account_key: str | None = None
    note: str = ""
    # Copies go straight to other devices, not to a company's servers: no vendor to sign a BAA.
    peer_to_peer: bool = False

    def presence_is_finding(self, family: OsFamily) -> bool:
        """Whether merely seeing the client on ``family`` is a gap (False where the OS ships it)."""
        return family not in self.builtin


CLIENTS: tuple[SyncClientSpec, ...] = (
    SyncClientSpec(
        name="Dropbox", vendor="Dropbox, Inc.",
        # The Linux daemon is installed into ~/.dropbox-dist by the official installer and its CLI
        # (Debian/Ubuntu "nautilus-dropbox", Dropbox's own .deb/.rpm) is /usr/bin/dropbox; the
        # headless tarball is often unpacked to /opt/dropbox (Dropbox Help Center, "Install Dropbox
        # on Linux"). The CLI's "autostart y" writes ~/.config/autostart/dropbox.desktop.
        processes={L: ("dropbox",), M: ("Dropbox",), W: ("Dropbox.exe",)},
        paths={L: ("~/.dropbox-dist", "/opt/dropbox", "/usr/bin/dropbox", "~/.dropbox"),
               M: ("/Applications/Dropbox.app", "~/.dropbox"),
               W: ("{ProgramFiles}\\Dropbox", "{ProgramFilesX86}\\Dropbox", "{AppData}\\Dropbox")},
        autostart={L: ("dropbox.desktop",), W: ("Dropbox",)},
        uninstall=(r"Dropbox\b",),
    ),
    SyncClientSpec(
        name="Google Drive for desktop", vendor="Google LLC",
        # Google Drive for desktop runs GoogleDriveFS.exe under Program Files\Google\Drive File
        # Stream (Google Workspace Admin Help, "Deploy Drive for desktop"); the legacy "Backup and
        # Sync" ran googledrivesync.exe from Program Files\Google\Drive and was the Mac app
        # "Backup and Sync.app". Google publishes no Linux client.
        processes={M: ("Google Drive", "Backup and Sync"), W: ("GoogleDriveFS.exe", "googledrivesync.exe")},
        paths={M: ("/Applications/Google Drive.app", "/Applications/Backup and Sync.app"),
               W: ("{ProgramFiles}\\Google\\Drive File Stream", "{ProgramFiles}\\Google\\Drive")},
        uninstall=(r"Google Drive\b", r"Backup and Sync from Google\b"),
    ),
    SyncClientSpec(
        name="OneDrive (personal)", vendor="Microsoft Corporation",
        # OneDrive.exe is installed per user under %LOCALAPPDATA%\Microsoft\OneDrive or per machine
        # under Program Files\Microsoft OneDrive (Microsoft Learn, "Install the sync app per-machine")
        # and starts from the HKCU Run value "OneDrive". The Mac App Store / standalone app is
        # /Applications/OneDrive.app. On Linux there is no Microsoft client; "onedrive" is the
        # community client (abraunegg/onedrive, packaged in Debian/Ubuntu/Fedora), which syncs the
        # same accounts.
        processes={L: ("onedrive",), M: ("OneDrive",), W: ("OneDrive.exe",)},
        paths={L: ("/usr/bin/onedrive", "~/.config/onedrive"), M: ("/Applications/OneDrive.app",),
               W: ("{LocalAppData}\\Microsoft\\OneDrive", "{ProgramFiles}\\Microsoft OneDrive")},
        autostart={L: ("onedrive.service",), W: ("OneDrive",)},
        uninstall=(r"Microsoft OneDrive\b",),
        builtin=frozenset({W}),
        personal_account_key="HKCU\\Software\\Microsoft\\OneDrive\\Accounts\\Personal",
        note=("ships with Windows 10/11: presence is not a finding, only a configured personal account "
              "(registry key HKCU\\Software\\Microsoft\\OneDrive\\Accounts\\Personal) is"),
    ),
    SyncClientSpec(
        name="iCloud for Windows", vendor="Apple Inc.",
        # iCloud for Windows (Apple Support, "Set up iCloud for Windows"): the classic installer
        # puts its services under Program Files\Common Files\Apple\Internet Services; iCloud Drive
        # syncs through iCloudDrive.exe, account services through iCloudServices.exe. On macOS
        # iCloud Drive is part of the OS and is deliberately not catalogued.
        processes={W: ("iCloudDrive.exe", "iCloudServices.exe")},
        paths={W: ("{ProgramFiles}\\Common Files\\Apple\\Internet Services",
                   "{ProgramFilesX86}\\Common Files\\Apple\\Internet Services")},
        uninstall=(r"iCloud$", r"iCloud for Windows\b"),
        builtin=frozenset({M}),
        note="on macOS iCloud Drive is built in: a Mac is not flagged for running macOS",
    ),
    SyncClientSpec(
        name="Box Drive", vendor="Box, Inc.",
        # Box Drive installs to Program Files\Box\Box (Windows) and /Applications/Box.app (macOS)
        # (Box Support, "Installing Box Drive"); the retired "Box Sync" used its own name.
        processes={M: ("Box", "Box Sync"), W: ("Box.exe", "Box Sync.exe")},
        paths={M: ("/Applications/Box.app", "/Applications/Box Sync.app"),
               W: ("{ProgramFiles}\\Box\\Box", "{ProgramFiles}\\Box\\Box Sync")},
        uninstall=(r"Box$", r"Box Drive\b", r"Box Sync\b"),
    ),
    SyncClientSpec(
        name="pCloud Drive", vendor="pCloud AG",
        # pCloud Drive: Windows installer to Program Files\pCloud Drive (pCloud.exe), macOS
        # "pCloud Drive.app", Linux AppImage whose state lives in ~/.pcloud.
        processes={L: ("pcloud",), M: ("pCloud Drive",), W: ("pCloud.exe",)},
        paths={L: ("~/.pcloud",), M: ("/Applications/pCloud Drive.app", "~/.pcloud"),
               W: ("{ProgramFiles}\\pCloud Drive",)},
        uninstall=(r"pCloud Drive\b",),
    ),
    SyncClientSpec(
        name="MEGA (MEGAsync)", vendor="Mega Limited",
        # MEGAsync: the Linux packages install /usr/bin/megasync and add
        # ~/.config/autostart/megasync.desktop; MEGAsync.app on macOS; per-user install under
        # %LOCALAPPDATA%\MEGAsync on Windows. (The brief also named /opt/megasync; we could not
        # confirm it and leave it out.)
        processes={L: ("megasync",), M: ("MEGAsync",), W: ("MEGAsync.exe",)},
        paths={L: ("/usr/bin/megasync",), M: ("/Applications/MEGAsync.app",),
               W: ("{LocalAppData}\\MEGAsync", "{ProgramFiles}\\MEGAsync")},
        autostart={L: ("megasync.desktop",)},
        uninstall=(r"MEGAsync\b",),
    ),
    SyncClientSpec(
        name="Syncthing", vendor="the Syncthing Foundation", peer_to_peer=True,
        note="open source, peer to peer: files go to the other devices, not to the vendor; a BAA does not apply, "
             "so the question is where the peers are and who controls them",
        # Syncthing docs, "Starting Syncthing Automatically": Debian/Ubuntu ship
        # syncthing-start.desktop to copy into ~/.config/autostart and the systemd units
        # syncthing.service / syncthing@.service; on macOS a LaunchAgent (Homebrew's
        # homebrew.mxcl.syncthing) or the Syncthing.app bundle. Config in ~/.config/syncthing,
        # newer releases keep state in ~/.local/state/syncthing. SyncTrayzor is the common
        # Windows wrapper.
        processes={L: ("syncthing",), M: ("syncthing",), W: ("syncthing.exe", "SyncTrayzor.exe")},
        paths={L: ("/usr/bin/syncthing", "~/.config/syncthing", "~/.local/state/syncthing"),
               M: ("/Applications/Syncthing.app", "/opt/homebrew/bin/syncthing", "/usr/local/bin/syncthing"),
               W: ("{LocalAppData}\\Syncthing", "{ProgramFiles}\\SyncTrayzor")},
        autostart={L: ("syncthing-start.desktop", "syncthing.service", "syncthing@.service"),
                   M: ("homebrew.mxcl.syncthing",)},
        uninstall=(r"Syncthing\b", r"SyncTrayzor\b"),
    ),
    SyncClientSpec(
        name="Resilio Sync", vendor="Resilio, Inc.",
        # Resilio Sync: the Linux packages install /usr/bin/rslsync with the resilio-sync.service
        # unit and home /var/lib/resilio-sync (Resilio Help Center, "Installing Sync package on
        # Linux"); "Resilio Sync.app" on macOS; Program Files\Resilio Sync on Windows. "btsync"
        # is the daemon of its predecessor BitTorrent Sync.
        processes={L: ("rslsync", "btsync"), M: ("Resilio Sync",), W: ("Resilio Sync.exe",)},
        paths={L: ("/usr/bin/rslsync", "/var/lib/resilio-sync"), M: ("/Applications/Resilio Sync.app",),
               W: ("{ProgramFiles}\\Resilio Sync",)},
        autostart={L: ("resilio-sync.service",)},
        uninstall=(r"Resilio Sync\b",),
    ),
)

_HOME = r"(?:~|/home/[^/]+|/Users/[^/]+|/root|/var/root)"
_WIN_DIRS = {
    "{ProgramFiles}": r"[a-z]:/program files",
    "{ProgramFilesX86}": r"[a-z]:/program files \(x86\)",
    "{AppData}": r"[a-z]:/users/[^/]+/appdata/roaming",
    "{LocalAppData}": r"[a-z]:/users/[^/]+/appdata/local",
}


def _path_regex(pattern: str, family: OsFamily) -> re.Pattern[str]:
    """The listed path (or anything under it) as a regex on a normalised observed path."""
    if family is OsFamily.WINDOWS:
        rx = re.escape(pattern.replace("\\", "/").lower())
        for placeholder, expansion in _WIN_DIRS.items():
            rx = rx.replace(re.escape(placeholder.lower()), expansion)
        return re.compile(rf"^{rx}(?:/.*)?$", re.IGNORECASE)
    rx = re.escape(pattern)
    if pattern.startswith("~/"):
        rx = _HOME + re.escape(pattern[1:])
    return re.compile(rf"^{rx}(?:/.*)?$")


def _normalise_path(path: str, family: OsFamily) -> str:
    text = path.strip()
    if family is OsFamily.WINDOWS:
        text = text.replace("\\", "/").lower()
    return text.rstrip("/") or "/"


def match_process(name: str, family: OsFamily) -> SyncClientSpec | None:
    """The client whose process is ``name`` on ``family`` (case-insensitive, ``.exe`` tolerated)."""
    if not name.strip():
        return None
    for spec in CLIENTS:
        if any(process_matches(name, listed, family) for listed in spec.processes.get(family, ())):
            return spec
    return None


def match_path(path: str, family: OsFamily) -> SyncClientSpec | None:
    """The client installed at ``path`` (or a path under one of its install locations)."""
    observed = _normalise_path(path, family)
    if not observed or observed == "/":
        return None
    for spec in CLIENTS:
        for pattern in spec.paths.get(family, ()):
            if _path_regex(pattern, family).match(observed):
                return spec
    return None


_AUTOSTART_SUFFIXES = (".desktop", ".plist", ".lnk", ".service")


def _autostart_key(entry: str) -> str:
    base = entry.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in _AUTOSTART_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def match_autostart(entry: str, family: OsFamily) -> SyncClientSpec | None:
    """The client behind an autostart entry: a ``.desktop``/``.service`` name or path (Linux), a
    LaunchAgent label or plist name (macOS), a Run-key value name or Startup ``.lnk`` (Windows)."""
    key = _autostart_key(entry)
    if not key:
        return None
    for spec in CLIENTS:
        if any(_autostart_key(listed) == key for listed in spec.autostart.get(family, ())):
            return spec
    return None


def match_uninstall(display_name: str) -> SyncClientSpec | None:
    """The client a Windows Uninstall ``DisplayName`` belongs to (case-insensitive, anchored)."""
    name = display_name.strip()
    if not name:
        return None
    for spec in CLIENTS:
        if any(re.match(rx, name, re.IGNORECASE) for rx in spec.uninstall):
            return spec
    return None


def _probe_paths(family: OsFamily) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for spec in CLIENTS:
        for path in spec.paths.get(family, ()):
            # Only words the command allow-list accepts once the collector has replaced "~".
            if _SAFE_WORD.match(path.replace("~", "/home", 1) if path.startswith("~/") else path):
                seen.setdefault(path, None)
    return tuple(seen)


# Fixed paths worth an existence test over SSH (``ls -d``). ``~``-relative entries need the
# collector to substitute the account's home directory: the command allow-list
# (commands._SAFE_WORD) admits neither ``~`` nor spaces, so macOS apps whose bundle name has a
# space are found from the ``ls -1 /Applications`` listing instead.
PROBE_PATHS: dict[OsFamily, tuple[str, ...]] = {
    OsFamily.LINUX: _probe_paths(OsFamily.LINUX),
    OsFamily.MACOS: _probe_paths(OsFamily.MACOS),
}

__all__ = ["CLIENTS", "PROBE_PATHS", "SyncClientSpec", "match_autostart", "match_path", "match_process",
           "match_uninstall"]
