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
class EndpointInventory:
    """Everything one collection learned about one endpoint."""

    collector: str  # "ssh" or "windows"
    os: OsInfo | None
    disk: DiskEncryption | None
    screen_lock: ScreenLock | None
    firewall: Firewall | None
    antimalware: AntiMalware | None
    sync_clients: SyncClients | None
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
