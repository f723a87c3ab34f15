"""The frozen inputs of the pictures, and their builders from a saved run.

A picture never reads a ``ScanRun``: it draws these values. The builders here make them from
today's report view (failed results, grouped per host/service or per check) and rate them with
``placeholder_risk`` unless a ``risk_from`` callable is given (the seam for the likelihood x impact
rating of ``reports/risk.py``, see the package docstring).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scanner.models import CheckResult, Host, ScanRun, Severity, Status

SCALE = (1, 2, 3)
SCALE_WORDS = {1: "low", 2: "moderate", 3: "high"}
LEVEL_COLOURS = {"high": "#c62828", "moderate": "#ef8f00", "low": "#f4c542"}
NO_FINDING_COLOUR = "#4caf6a"


@dataclass(frozen=True, order=True)
class RiskLevel:
    """Likelihood and impact on a 3-point scale (1 low, 2 moderate, 3 high; NIST SP 800-30 Rev. 1,
    Appendix G and I, use the same qualitative words). ``level`` is what colours a picture."""

    likelihood: int
    impact: int
    basis: str = "placeholder: from the finding's severity"

    @property
    def score(self) -> int:
        return self.likelihood * self.impact

    @property
    def level(self) -> str:
        # 3x3 matrix: high when 6 or 9, moderate when 3 or 4, low when 1 or 2
        return "high" if self.score >= 6 else "moderate" if self.score >= 3 else "low"

    @property
    def colour(self) -> str:
        return LEVEL_COLOURS[self.level]


RiskFrom = Callable[[Sequence[CheckResult]], RiskLevel]

_PLACEHOLDER = {  # severity -> (likelihood, impact)
    Severity.CRITICAL: (3, 3), Severity.HIGH: (3, 2), Severity.MEDIUM: (2, 2),
    Severity.LOW: (1, 2), Severity.INFO: (1, 1),
}


def placeholder_risk(results: Sequence[CheckResult]) -> RiskLevel:
    """The stand-in rating until the real one is plugged in: the worst severity of the results,
    mapped onto likelihood x impact. It knows nothing of the asset, so it is only a sketch."""
    worst = max((r.severity for r in results), key=lambda s: s.rank, default=Severity.INFO)
    likelihood, impact = _PLACEHOLDER[worst]
    return RiskLevel(likelihood, impact)


def _failed(run: ScanRun) -> list[CheckResult]:
    return [r for r in run.results if r.status is Status.FAIL]


# ------------------------------------------------------------------ network map


@dataclass(frozen=True)
class MapService:
    """One port of a device that carries at least one failed finding."""

    label: str  # "445/tcp smb"
    findings: int
    titles: tuple[str, ...]
    risk: RiskLevel


@dataclass(frozen=True)
class MapDevice:
    """One device (or a domain, with ``subnet`` "Internet: domains") on the network map."""

    address: str
    name: str  # a hostname the scan learnt, else the address
    role: str
    subnet: str
    services: tuple[MapService, ...]  # only those with findings, worst first
    findings: int  # failed results on the device, services or not
    risk: RiskLevel | None  # the worst of the device's; None when nothing failed


DOMAINS = "Internet: the practice's domains"

# Placeholder roles from the services a device offers (first match wins), until the client
# file's asset inventory names them. Routing names as discovery writes them.
_ROLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("file server", frozenset({"smb", "nfs", "ftp", "ftps", "rpcbind"})),
    ("mail server", frozenset({"smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s"})),
    ("DNS server", frozenset({"dns", "domain"})),
    ("database", frozenset({"mysql", "postgresql", "mssql", "db"})),
    ("remote access", frozenset({"vnc", "rdp", "telnet"})),
    ("web / app server", frozenset({"http", "https"})),
    ("network device", frozenset({"snmp"})),
)


def device_role(host: Host, endpoint: bool = False) -> str:
    names = {s.service or "" for s in host.services}
    for role, services in _ROLES:
        if names & services:
            return role
    if endpoint:
        return "workstation / laptop"
    return "other device" if names else "device (no open port)"


def _subnet(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "other"
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _service_label(r: CheckResult) -> str:
    t = r.target
    if t.port is None:
        return "the machine itself"
    return f"{t.port}/{(t.transport.value if t.transport else 'tcp')} {t.service or '?'}"


def _services(results: list[CheckResult], risk_from: RiskFrom) -> tuple[MapService, ...]:
    by_label: dict[str, list[CheckResult]] = defaultdict(list)
    for r in results:
        by_label[_service_label(r)].append(r)
    services = [MapService(label, len(rs), tuple(sorted({r.title for r in rs})), risk_from(rs))
                for label, rs in by_label.items()]
    return tuple(sorted(services, key=lambda s: (-s.risk.score, -s.findings, s.label)))


def map_devices(run: ScanRun, risk_from: RiskFrom = placeholder_risk,
                known: Mapping[str, tuple[str, str | None]] | None = None) -> list[MapDevice]:
    """Every discovered host, and every domain with a result, with the services that carry findings.
    ``known``: address or domain -> (name, role) from the practice's asset inventory, which replace
    the learned host name and the role guessed from the services."""
    known = known or {}
    failed = _failed(run)
    by_host: dict[str, list[CheckResult]] = defaultdict(list)
    by_domain: dict[str, list[CheckResult]] = defaultdict(list)
    for r in failed:
        if r.target.host:
            by_host[r.target.host].append(r)
        elif r.target.domain:
            by_domain[r.target.domain].append(r)
    endpoint_hosts = {r.target.host for r in run.results if r.check_id.startswith("endpoint.")
                      and r.status in (Status.PASS, Status.FAIL)}
    devices = []
    for host in run.hosts:
        rs = by_host.get(host.address, [])
        name, role = known.get(host.address, (host.hostnames[0] if host.hostnames else host.address, None))
        devices.append(MapDevice(host.address, name, role or device_role(host, host.address in endpoint_hosts),
                                 _subnet(host.address), _services(rs, risk_from), len(rs),
                                 risk_from(rs) if rs else None))
    domains = sorted({r.target.domain for r in run.results if r.target.domain and r.status in (Status.PASS,
                                                                                                 Status.FAIL)})
    for domain in domains:
        rs = by_domain.get(domain, [])
        name, role = known.get(domain.lower().rstrip("."), (domain, None))
        devices.append(MapDevice(domain, name, role or "domain (DNS, mail)", DOMAINS, (), len(rs),
                                 risk_from(rs) if rs else None))
    return devices


# ------------------------------------------------------------------ risk matrix


@dataclass(frozen=True)
class MatrixItem:
    """One thing placed on the risk matrix (today: a failed check with its places; with h6's
    projects: a remediation project)."""

    number: int
    label: str
    places: int
    risk: RiskLevel


def matrix_items(groups: Iterable[tuple[str, Sequence[CheckResult]]],
                 risk_from: RiskFrom = placeholder_risk, ranked: bool = False) -> list[MatrixItem]:
    """``groups``: (label, failed results) pairs, e.g. one per check; numbered by risk, worst first.
    ``ranked``: the groups come ranked already (the report's remediation projects) and keep their
    order and numbers, so disc 3 is project 3 of section 3; a group with no result has no disc."""
    if ranked:
        return [MatrixItem(n, label, len(rs), risk_from(rs)) for n, (label, rs) in enumerate(groups, 1) if rs]
    rated = [(label, rs, risk_from(rs)) for label, rs in groups if rs]
    rated.sort(key=lambda t: (-t[2].score, -t[2].impact, -len(t[1]), t[0]))
    return [MatrixItem(i, label, len(rs), risk) for i, (label, rs, risk) in enumerate(rated, 1)]


def check_groups(run: ScanRun) -> list[tuple[str, list[CheckResult]]]:
    """Failed results per check (the unit of today's recommendations), labelled by the check's title."""
    by_check: dict[str, list[CheckResult]] = defaultdict(list)
    for r in _failed(run):
        by_check[r.check_id].append(r)
    return [(rs[0].title, rs) for rs in by_check.values()]


# ------------------------------------------------------------------ device x severity grid


@dataclass(frozen=True)
class GridRow:
    label: str
    counts: tuple[int, ...]  # failed results per severity, in ``Severity`` order worst first


def grid_rows(devices: Sequence[MapDevice], run: ScanRun) -> list[GridRow]:
    """One row per device or domain of the map, counting its failed results per severity."""
    order = sorted(Severity, key=lambda s: -s.rank)
    counts: dict[str, dict[Severity, int]] = defaultdict(lambda: dict.fromkeys(order, 0))
    for r in _failed(run):
        key = r.target.host or r.target.domain
        if key:
            counts[key][r.severity] += 1
    rows = []
    for d in devices:
        label = d.name if d.name == d.address else f"{d.name} ({d.address})"
        rows.append(GridRow(label, tuple(counts[d.address][s] for s in order)))
    return rows
