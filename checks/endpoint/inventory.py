"""What a credentialed collector learned about one endpoint: plain frozen data, no I/O.

Collectors (SSH for Linux/macOS, SMB/RPC for Windows) fill an ``EndpointInventory``; platform
parsers (``linux.py``, ``macos.py``, ``windows/parse.py``) turn raw outputs into its sections;
the ``endpoint.*`` checks and ``cloudsync.client_installed`` judge it. Every section keeps the
raw ``Observation`` it was read from, with the time of collection, so the evidence in a report
proves the state on that day (45 CFR 164.316(b)(1) documentation; the technician's proof that a
laptop was encrypted on a given date).

A section is ``None``-valued or carries ``unknown`` when it could not be read: the checks then
say ``error`` with that reason, never PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from scanner.models import Evidence, utcnow

OUTPUT_CAP = 4000  # characters of one command's output kept as evidence


@dataclass(frozen=True)
class Observation:
    """One raw reading: what was asked, what came back, when. Never a secret, never file contents."""

    source: str  # "ssh: lsblk -J ...", "wmi: root\\cimv2\\security\\...: SELECT ...", "registry: HKLM\\..."
    output: str  # capped, sanitised text (see OUTPUT_CAP)
    collected_at: datetime = field(default_factory=utcnow)
    exit_status: int | None = None  # for commands; None for WMI/registry reads

    def as_data(self) -> dict[str, object]:
        return {"source": self.source, "output": self.output[:OUTPUT_CAP],
                "collected_at": self.collected_at.isoformat(), "exit_status": self.exit_status}


def evidence_of(kind: str, summary: str, observations: tuple[Observation, ...], method: str) -> Evidence:
    """Evidence carrying every raw reading behind a verdict; collected_at is the earliest reading."""
    when = min((o.collected_at for o in observations), default=utcnow())
    return Evidence(kind=kind, summary=summary, data={"observations": [o.as_data() for o in observations]},
                    collected_at=when, method=method)


class Unknown(Exception):
    """Raised by a parser that cannot decide from what it was given (missing command, odd locale)."""


class EncryptionState(StrEnum):
    ENCRYPTED = "encrypted"  # protection on (LUKS open, FileVault On, BitLocker protection on)
    NOT_ENCRYPTED = "not_encrypted"
    SUSPENDED = "suspended"  # encrypted but the key is in the clear (BitLocker suspended)
    IN_PROGRESS = "in_progress"  # encryption or decryption under way: not yet protected
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Volume:
    """One storage volume as the OS reports it."""

    name: str  # device or drive: "nvme0n1p3", "C:", "disk3s1"
    mountpoint: str | None  # "/", "/home", "[SWAP]", "C:" ...
    state: EncryptionState
    size: str | None = None  # as the OS printed it ("476.9G", "255 GB")
    fstype: str | None = None
    method: str | None = None  # "LUKS (dm-crypt)", "XTS-AES 128", "FileVault" ...
    note: str = ""  # why this state: "on dm-crypt device luks-3f2a", "ProtectionStatus 0 (suspended)"


@dataclass(frozen=True)
class DiskEncryption:
    volumes: tuple[Volume, ...]
    observations: tuple[Observation, ...]
    unknown: str | None = None  # set when the state could not be read at all


@dataclass(frozen=True)
class ScreenLock:
    """Inactivity lock: whether it is on and after how many seconds of idle (45 CFR 164.312(a)(2)(iii))."""

    observations: tuple[Observation, ...]
    lock_enabled: bool | None = None
    idle_seconds: int | None = None  # None: never / not set
    source: str = ""  # "GNOME (dconf)", "macOS screensaver", "InactivityTimeoutSecs policy" ...
    not_applicable: str | None = None  # e.g. no graphical desktop installed (a server)
    unknown: str | None = None


@dataclass(frozen=True)
class Firewall:
    observations: tuple[Observation, ...]
    enabled: bool | None = None
    detail: str = ""  # "nftables: inet filter input policy drop"; "Domain on, Private on, Public off"
    profiles: tuple[tuple[str, bool], ...] = ()  # Windows profiles (name, enabled)
    unknown: str | None = None


@dataclass(frozen=True)
class AntiMalwareProduct:
    name: str  # "ClamAV", "Microsoft Defender Antivirus", "CrowdStrike Falcon", "XProtect"
    running: bool | None  # real-time protection / daemon running; None when not reported
    up_to_date: bool | None = None  # signatures current; None when not reported
    how: str = ""  # "process clamd", "SecurityCenter2 productState 0x61100" ...


@dataclass(frozen=True)
class AntiMalware:
    products: tuple[AntiMalwareProduct, ...]
    observations: tuple[Observation, ...]
    unknown: str | None = None


class OsFamily(StrEnum):
    LINUX = "linux"
    MACOS = "macos"
    WINDOWS = "windows"


@dataclass(frozen=True)
class OsInfo:
    family: OsFamily
    name: str  # "Debian GNU/Linux 12 (bookworm)", "macOS 14.6.1", "Windows 11 Pro 23H2"
    product_id: str  # key into data/os_eol.yaml: "debian", "ubuntu", "macos", "windows-11", ...
    version: str  # "12", "22.04", "14.6.1", "23H2", "2019"
    build: str | None = None  # "22631.4460", "23G93"
    edition: str | None = None  # Windows EditionID: "Professional", "Enterprise", "ServerStandard"
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class SyncClientSeen:
    """A consumer sync client found on the endpoint, and how it was seen."""

    client: str  # canonical name from sync_clients.py: "Dropbox", "Google Drive for desktop" ...
    how: str  # "process", "install path", "autostart entry", "uninstall entry"
    where: str  # the process name, path or registry key/value that showed it


@dataclass(frozen=True)
class SyncClients:
    seen: tuple[SyncClientSeen, ...]
    observations: tuple[Observation, ...]
    unknown: str | None = None


@dataclass(frozen=True)
class BackupJob:
    """One backup the endpoint is configured to make, and what could be read of its state.

    ``encrypted`` None and ``last_success`` None mean "could not be read" (``unknown`` says why for
    the job as a whole); the checks then say ``error``, never PASS."""

    tool: str  # "restic", "BorgBackup", "Déjà Dup", "Timeshift", "Time Machine", "File History", ...
    destination: str  # repository path or URL, volume, folder (never a password)
    encrypted: bool | None
    encryption_note: str  # why: "restic encrypts every repository (AES-256)", "borg encryption mode none"
    last_success: datetime | None = None
    last_note: str = ""  # where the time came from: "newest snapshot (restic snapshots --json)"
    scheduled: str = ""  # "cron /etc/cron.d/restic-backup", "systemd borg-backup.service + .timer"
    cloud_vendor: str | None = None  # a consumer cloud the destination is synchronised to
    time_unknown: str | None = None  # why the last success could not be read (password source not named)


@dataclass(frozen=True)
class Backups:
    jobs: tuple[BackupJob, ...]
    observations: tuple[Observation, ...]
    unknown: str | None = None


@dataclass(frozen=True)
class PendingUpdate:
    package: str
    available: str  # the version offered
    installed: str | None = None
    security: bool = False
    severity: str | None = None  # the vendor's rating where the tool reports one (dnf: Critical/Important/...)
    origin: str = ""  # "Debian-Security:12/stable-security", "FEDORA-2024-1a2b3c", "macOS Sonoma 14.6.1"
    published: datetime | None = None  # when the vendor issued it, where the tool says (dnf updateinfo)


@dataclass(frozen=True)
class Patches:
    """Updates offered but not installed, and when updates were last installed."""

    source: str  # "apt", "dnf", "softwareupdate", "Windows Update"
    pending: tuple[PendingUpdate, ...]
    observations: tuple[Observation, ...]
    pending_known: bool = True  # False where the collector cannot list pending updates (Windows, remotely)
    last_install: datetime | None = None
    last_install_note: str = ""
    unknown: str | None = None


@dataclass(frozen=True)
class Accounts:
    """Local accounts and the password policy: raw facts, judged by endpoint.accounts_weak."""

    observations: tuple[Observation, ...]
    source: str = ""  # "Linux /etc/passwd, passwd -S -a, PAM", "MS-SAMR"
    uid0: tuple[str, ...] | None = None  # Linux: accounts with UID 0
    no_password: tuple[str, ...] | None = None  # accounts that log on without a password
    min_length: int | None = None  # minimum password length enforced (0: none)
    min_length_where: str = ""
    lockout_threshold: int | None = None  # failed logons before lockout (0: never locks)
    lockout_where: str = ""
    max_age_days: int | None = None  # maximum password age (0: never expires); reported, not judged
    guest_enabled: bool | None = None  # Windows/Samba: the built-in Guest (RID 501)
    administrators: tuple[str, ...] | None = None  # members of the local Administrators group (names or SIDs)
    unread: tuple[tuple[str, str], ...] = ()  # (aspect, why) for facts that could not be read
    not_applicable: str | None = None
    unknown: str | None = None


@dataclass(frozen=True)
class SoftwareItem:
    name: str
    version: str
    source: str  # "dpkg", "rpm", "/Applications", "Uninstall key"


@dataclass(frozen=True)
class Software:
    items: tuple[SoftwareItem, ...]
    observations: tuple[Observation, ...]
    truncated: bool = False
    unknown: str | None = None


@dataclass(frozen=True)
class EndpointInventory:
    """Everything one collection learned about one endpoint."""

    collector: str  # "ssh" or "windows"
    os: OsInfo | None
    disk: DiskEncryption | None
    screen_lock: ScreenLock | None
    firewall: Firewall | None
    antimalware: AntiMalware | None
    sync_clients: SyncClients | None
    backup: Backups | None = None
    patches: Patches | None = None
    accounts: Accounts | None = None
    software: Software | None = None
    # Why a section is None: {"disk": "lsblk not found", ...}. Every None section has an entry.
    missing: tuple[tuple[str, str], ...] = ()
    account: str = ""  # the user name the collector logged on as (never a secret)
    # When the collection finished: what a check judges dates against (never the wall clock at
    # judging time), so a saved collection judged again later gives the same answer.
    collected_at: datetime = field(default_factory=utcnow)

    @property
    def collected_by(self) -> str:
        """How the evidence was collected: "ssh collector as gslab"."""
        return f"{self.collector} collector as {self.account}"

    def why_missing(self, section: str) -> str:
        return dict(self.missing).get(section, "not collected")
