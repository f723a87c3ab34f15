"""The typed objects that flow from discovery to reports.

Everything here is a frozen pydantic model so that a saved ``ScanRun`` (scan.json) can be read
back, validated and re-judged without a network. Reports import only this module and the
catalogue, never the engine.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp in a run is UTC."""
    return datetime.now(UTC)


class Frozen(BaseModel):
    """Base for immutable, strictly-keyed models (an unknown key is an error, not ignored).

    Every field is always written, so the JSON Schema marks every key of scan.json required."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)


class Status(StrEnum):
    """How a (check, target) pair ended. Every pair ends in exactly one of these."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class Severity(StrEnum):
    """Severity of the gap a check looks for (the severity of its FAIL)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Larger is worse; used by ``--fail-on`` and sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class ErrorReason(StrEnum):
    """Why a check could not establish its facts (status ``error``)."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    PROTOCOL = "protocol"
    PERMISSION = "permission"
    MISSING_DEPENDENCY = "missing_dependency"
    OUT_OF_SCOPE = "out_of_scope"
    INTERRUPTED = "interrupted"
    AUTH_FAILED = "auth_failed"  # the credentials were refused (never shows which secret)
    HOST_KEY_REFUSED = "host_key_refused"  # SSH host key changed, or unknown where a known one is required
    BUG = "bug"


class SkipReason(StrEnum):
    """Why a check was deliberately not run (status ``skipped``)."""

    INTRUSIVE_DISABLED = "intrusive_disabled"
    PERMISSION = "permission"
    NO_CREDENTIALS = "no_credentials"
    NOT_APPLICABLE = "not_applicable"
    DISABLED_BY_PROFILE = "disabled_by_profile"
    MISSING_DEPENDENCY = "missing_dependency"


class Transport(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class Service(Frozen):
    """An open port on a host and what answers there."""

    port: int = Field(ge=0, le=65535)
    transport: Transport = Transport.TCP
    service: str | None = None  # routing name: smtp, smb, ssh, ftp, http, https, imap, ...
    product: str | None = None
    version: str | None = None
    banner: str | None = None
    identified_by: str | None = None  # port-map, banner, nmap


class NameSource(StrEnum):
    """How discovery learned a name of a host without credentials."""

    REVERSE_DNS = "reverse-dns"  # a PTR record at the declared --nameserver
    NETBIOS = "netbios"
    MDNS = "mdns"


class LearnedName(Frozen):
    """A name a host answers to, learned by discovery (never from a logon)."""

    name: str
    source: NameSource


class Host(Frozen):
    """A live host found by discovery."""

    address: str
    hostnames: tuple[str, ...] = ()  # the names the technician gave in the scope for this address
    services: tuple[Service, ...] = ()
    discovered_by: str | None = None  # arp, tcp-ping, icmp, listed, nmap
    # Optional, and left out of scan.json when empty: a host with no learned name serialises exactly
    # as before the field existed, so an older scan.json re-serialises byte for byte (the SHA-256 on
    # a report's cover still matches the file).
    learned_names: tuple[LearnedName, ...] = Field(default=(), exclude_if=lambda names: not names)
    mac: str | None = Field(default=None, exclude_if=lambda v: v is None)  # from the ARP reply
    mac_vendor: str | None = Field(default=None, exclude_if=lambda v: v is None)  # its OUI's owner
    # The NetBIOS workgroup or domain its node-status reply named (scanner.discovery.netbios).
    workgroup: str | None = Field(default=None, exclude_if=lambda v: v is None)


class Target(Frozen):
    """What one check result is about: a service, a host, or a domain."""

    host: str | None = None
    port: int | None = None
    transport: Transport | None = None
    service: str | None = None
    domain: str | None = None

    def label(self) -> str:
        """Human-readable form: ``198.18.0.10:25/smtp`` or ``example-practice.com``."""
        if self.domain and not self.host:
            return self.domain
        if not self.host and self.service == "network":
            return "scanned network (passive listening)"
        text = self.host or "?"
        if self.port is not None:
            text += f":{self.port}"
        if self.service:
            text += f"/{self.service}"
        return text

    def host_port(self) -> str:
        """``198.18.0.10:445``: the address and port a finding's detail names (the host alone
        when the target has no port)."""
        return f"{self.host}:{self.port}" if self.port is not None else f"{self.host}"

    def key(self) -> str:
        """Stable identity of the target for fingerprints (service names may be re-identified)."""
        parts = [self.host or "", str(self.port or ""), str(self.transport or ""), self.domain or ""]
        return "|".join(parts)


class Evidence(Frozen):
    """What an auditor would ask to see. Never a credential, never file contents (PHI)."""

    kind: str  # banner, ehlo, negotiate, txt-record, command-output, ...
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)
    collected_at: datetime = Field(default_factory=utcnow)
    method: str | None = None  # how it was collected: "TCP connect + EHLO", "nmap -sV" ...


def fingerprint(check_id: str, target: Target, discriminator: str = "") -> str:
    """Stable identity of a finding across rescans: check id + target + discriminator.

    History, drift and client decisions key on it, so its inputs must never include anything
    that changes between runs (times, banners, versions).
    """
    raw = "\x1f".join((check_id, target.key(), discriminator))
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class ThirdPartyKind(StrEnum):
    """Who holds the copies a finding reveals."""

    VENDOR = "vendor"  # a company's service (mail, cloud sync): a business associate if it holds ePHI
    PEER_TO_PEER = "peer_to_peer"  # no company in between: copies go to other devices, outside any contract


class ThirdParty(Frozen):
    """A third party a finding reveals the practice uses (a possible business associate), set by
    the check that saw it, so that reports never parse a finding's words to find it."""

    vendor: str  # "Dropbox", "Gmail", "Syncthing": the product or provider as a person names it
    service: str  # what it does for the practice: "Email hosting", "Cloud file sync", ...
    kind: ThirdPartyKind = ThirdPartyKind.VENDOR


class InstalledSoftware(Frozen):
    """One program installed on an endpoint, as its package manager or registry lists it: plain
    data for the report's asset list (set by endpoint.software_unsupported)."""

    name: str
    version: str = ""
    source: str = ""  # "dpkg", "rpm", "/Applications", "Uninstall key"


class Finding(Frozen):
    """What a check emits for one target: passed or failed, with the observation behind it."""

    target: Target
    passed: bool
    detail: str
    evidence: tuple[Evidence, ...] = ()
    discriminator: str = ""  # e.g. a share name when one check reports several things per target
    severity: Severity | None = None  # override of the check's default, rarely needed
    third_parties: tuple[ThirdParty, ...] = ()  # the vendors (or peer-to-peer copies) the finding reveals
    software: tuple[InstalledSoftware, ...] = ()  # the endpoint's installed programs (endpoint.software_unsupported)


class Skip(Frozen):
    """A check deciding, from the facts, that it does not apply or must not run."""

    target: Target
    reason: SkipReason
    detail: str


class Undetermined(Frozen):
    """A check saying, from the facts, that it cannot judge (a command missing, an unreadable
    setting, a refusal to proceed): an ``error`` result with a reason, never a PASS."""

    target: Target
    reason: ErrorReason
    detail: str
    evidence: tuple[Evidence, ...] = ()
    discriminator: str = ""


class CheckResult(Frozen):
    """The one result of one (check, target[, discriminator]) pair, as saved in scan.json."""

    check_id: str
    status: Status
    severity: Severity
    title: str
    target: Target
    detail: str
    evidence: tuple[Evidence, ...] = ()
    hipaa: tuple[str, ...] = ()
    remediation: str = ""
    fingerprint: str
    reason: str | None = None  # ErrorReason or SkipReason value for error/skipped
    started_at: datetime | None = None
    finished_at: datetime | None = None
    third_parties: tuple[ThirdParty, ...] = ()  # set by the check on pass/fail results that name one
    software: tuple[InstalledSoftware, ...] = ()  # installed programs of the host (endpoint.software_unsupported)


class CheckText(Frozen):
    """What a person reads about a check, whatever its results: the title, why the gap matters
    (plain words for a practice owner) and what to do. Renderers may not import the checks, so
    the CLI hands them a catalogue of these, built from the registry (``Registry.catalogue``)."""

    check_id: str
    title: str
    why: str
    remediation: str


class ScopeRecord(Frozen):
    """Who authorized what, recorded with every run."""

    authorized_by: str | None = None
    authorized_at: datetime | None = None
    targets: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    resolved_addresses: int = 0
    allow_public: bool = False
    nameservers: tuple[str, ...] = ()
    scope_file: str | None = None
    # Host names among the targets/exclusions and the addresses the declared nameservers gave.
    resolved_names: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class DiscoveryRecord(Frozen):
    """How hosts and services were found in this run."""

    engine: str = "none"
    host_discovery: str = "none"
    duration_s: float = 0.0
    addresses_in_scope: int = 0
    notes: tuple[str, ...] = ()


class Summary(Frozen):
    by_status: dict[str, int]
    by_severity: dict[str, int]  # failed results only: the open gaps


class ScanRun(Frozen):
    """One scan, complete or interrupted. The canonical output (scan.json)."""

    schema_version: str = SCHEMA_VERSION
    tool_version: str
    run_id: str
    client: str | None = None
    profile: str
    started_at: datetime
    finished_at: datetime | None = None
    complete: bool = True
    scope: ScopeRecord
    discovery: DiscoveryRecord = DiscoveryRecord()
    hosts: tuple[Host, ...] = ()
    results: tuple[CheckResult, ...] = ()
    summary: Summary
    warnings: tuple[str, ...] = ()


def summarize(results: tuple[CheckResult, ...] | list[CheckResult]) -> Summary:
    """Counts by status, and open gaps (failed results) by severity."""
    by_status = {s.value: 0 for s in Status}
    by_severity = {s.value: 0 for s in Severity}
    for result in results:
        by_status[result.status.value] += 1
        if result.status is Status.FAIL:
            by_severity[result.severity.value] += 1
    return Summary(by_status=by_status, by_severity=by_severity)
