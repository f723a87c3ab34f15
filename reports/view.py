"""What the gap report shows, computed from a saved ScanRun and the HIPAA catalogue.

Pure functions, no I/O: the safeguard matrix, findings grouped by severity then safeguard, top
risks, the heat map layout, third parties seen beside the BAA register, the recommendations to
sign off, and the method-and-limits facts.
Nothing here branches on protocol: per-check wording comes from the catalogue the CLI passes in
(built from each check's own metadata) and third parties from each result's ``third_parties``,
set by the check that saw them.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from reports.annotations import Catalogue, DecisionNote, Decisions, decision_for
from scanner.config.framework import Framework, Requirement, citation_sort_key
from scanner.models import CheckResult, ScanRun, Severity, Status, ThirdPartyKind

GAP_FOUND, NO_GAP, NOT_ASSESSED = "gap found", "no gap observed", "not assessed by scan"
SEVERITIES = tuple(sorted(Severity, key=lambda s: -s.rank))
PARTS = {
    "164.308": "Administrative safeguards",
    "164.310": "Physical safeguards",
    "164.312": "Technical safeguards",
    "164.314": "Organizational requirements",
    "164.316": "Policies, procedures and documentation",
}
UNMAPPED = "not mapped to a safeguard"


NO_WHY = ("This check is not installed where this report was made, so its explanation is not available here; "
          "the finding's title and remediation say what it found and what to do.")


def why(check_id: str, checks: Catalogue | None) -> str:
    """The check's own "why it matters" words for a practice owner."""
    info = (checks or {}).get(check_id)
    return info.why if info is not None else NO_WHY


def scan_digest(run: ScanRun) -> str:
    """SHA-256 of scan.json exactly as ``scanner.engine.output.write_scan_json`` writes it."""
    return hashlib.sha256((run.model_dump_json(indent=2) + "\n").encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ safeguard matrix


@dataclass
class SafeguardRow:
    requirement: Requirement
    status: str
    failed: list[CheckResult] = field(default_factory=list)
    passed: int = 0
    not_tested: int = 0  # error or skipped results of linked checks
    checks_with_results: int = 0
    worst: Severity | None = None

    @property
    def citation(self) -> str:
        return self.requirement.citation

    @property
    def part(self) -> str:
        return self.citation[:7]

    @property
    def coverage(self) -> str:
        linked = len(self.requirement.checks)
        if not linked:
            return "Outside what a network scan can see: needs a review of documents and practice."
        text = (f"{self.checks_with_results} of {linked} linked check(s) produced results: "
                f"{len(self.failed)} failed, {self.passed} passed")
        if self.not_tested:
            text += f", {self.not_tested} could not be tested or were skipped"
        if self.status == NO_GAP:
            text += ". The scan saw no gap; policies and procedures are outside what it can see"
        return text + "."


def safeguard_matrix(run: ScanRun, framework: Framework) -> list[SafeguardRow]:
    by_check: dict[str, list[CheckResult]] = defaultdict(list)
    for r in run.results:
        by_check[r.check_id].append(r)
    rows = []
    for req in sorted(framework.requirements, key=lambda r: citation_sort_key(r.citation)):
        row = SafeguardRow(req, NOT_ASSESSED)
        for link in req.checks:
            results = by_check.get(link.check, [])
            if any(r.status in (Status.PASS, Status.FAIL) for r in results):
                row.checks_with_results += 1
            for r in results:
                if r.status is Status.FAIL:
                    row.failed.append(r)
                    if row.worst is None or r.severity.rank > row.worst.rank:
                        row.worst = r.severity
                elif r.status is Status.PASS:
                    row.passed += 1
                else:
                    row.not_tested += 1
        if row.failed:
            row.status = GAP_FOUND
        elif row.passed:
            row.status = NO_GAP
        rows.append(row)
    return rows


# ------------------------------------------------------------------ heat map (inline SVG layout)

HEAT_COLOURS = {
    "critical": "#8b0000", "high": "#c62828", "medium": "#ef8f00", "low": "#f4c542", "info": "#f4e29a",
    NO_GAP: "#4caf6a", NOT_ASSESSED: "#e3e6ea",
}


@dataclass(frozen=True)
class HeatCell:
    x: int
    y: int
    label: str
    colour: str
    dark: bool
    tooltip: str


@dataclass(frozen=True)
class HeatMap:
    width: int
    height: int
    cells: tuple[HeatCell, ...]
    headings: tuple[tuple[int, str], ...]  # (y, text)


def heat_map(rows: list[SafeguardRow], columns: int = 8, cell_w: int = 104, cell_h: int = 24) -> HeatMap:
    cells: list[HeatCell] = []
    headings: list[tuple[int, str]] = []
    y = 0
    for part, name in PARTS.items():
        items = [r for r in rows if r.part == part]
        if not items:
            continue
        headings.append((y + 15, f"{part} {name}"))
        y += 22
        for i, row in enumerate(items):
            key = row.worst.value if row.status == GAP_FOUND and row.worst else row.status
            colour = HEAT_COLOURS[key]
            label = row.citation[len(part):] or row.citation
            tip = f"{row.citation} {row.requirement.title}: {row.status}"
            if row.failed:
                tip += f" ({len(row.failed)} finding(s))"
            cells.append(HeatCell(x=(i % columns) * (cell_w + 4), y=y + (i // columns) * (cell_h + 4),
                                  label=label, colour=colour, dark=key in ("critical", "high", NO_GAP),
                                  tooltip=tip))
        y += ((len(items) + columns - 1) // columns) * (cell_h + 4) + 6
    return HeatMap(width=columns * (cell_w + 4), height=y, cells=tuple(cells), headings=tuple(headings))


# ------------------------------------------------------------------ findings, risks, recommendations


@dataclass
class FindingGroup:
    severity: Severity
    safeguards: list[tuple[str, str, list[CheckResult]]]  # (citation, title, results)

    @property
    def count(self) -> int:
        return sum(len(rs) for _, _, rs in self.safeguards)


def failed_results(run: ScanRun) -> list[CheckResult]:
    return [r for r in run.results if r.status is Status.FAIL]


def finding_groups(run: ScanRun, framework: Framework) -> list[FindingGroup]:
    """Failed results by severity (worst first), then by the first safeguard they are a gap against."""
    titles = {r.citation: r.title for r in framework.requirements}
    groups = []
    failed = failed_results(run)
    for sev in SEVERITIES:
        by_cite: dict[str, list[CheckResult]] = defaultdict(list)
        for r in failed:
            if r.severity is sev:
                by_cite[r.hipaa[0] if r.hipaa else UNMAPPED].append(r)
        if by_cite:
            ordered = sorted(by_cite, key=lambda c: (c == UNMAPPED, citation_sort_key(c)))
            groups.append(FindingGroup(sev, [
                (c, titles.get(c, ""), sorted(by_cite[c], key=lambda r: (r.check_id, r.target.label())))
                for c in ordered]))
    return groups


@dataclass
class Recommendation:
    check_id: str
    title: str
    severity: Severity
    remediation: str
    targets: list[str]
    hipaa: tuple[str, ...]
    fingerprints: list[str]


def recommendations(run: ScanRun) -> list[Recommendation]:
    """One recommendation per failed check, worst first, naming every target it applies to."""
    recs: dict[str, Recommendation] = {}
    for r in failed_results(run):
        rec = recs.get(r.check_id)
        if rec is None:
            rec = recs[r.check_id] = Recommendation(r.check_id, r.title, r.severity, r.remediation, [], r.hipaa, [])
        elif r.severity.rank > rec.severity.rank:
            rec.severity = r.severity
        rec.targets.append(r.target.label())
        rec.fingerprints.append(r.fingerprint)
    return sorted(recs.values(), key=lambda x: (-x.severity.rank, -len(x.targets), x.check_id))


def top_risks(recs: list[Recommendation], limit: int = 5) -> list[Recommendation]:
    return [r for r in recs if r.severity.rank >= Severity.MEDIUM.rank][:limit] or recs[:limit]


# ------------------------------------------------------------------ third parties


@dataclass
class ThirdParty:
    vendor: str
    service: str
    seen_at: list[str]
    consumer: bool  # a failed finding: a consumer tier that signs no BAA
    register: Any | None  # the matching BaaEntry of the client file, if any
    peer_to_peer: bool = False  # no company holds the copies: they go to other devices

    @property
    def status(self) -> str:
        if self.consumer and self.peer_to_peer:
            return "peer-to-peer: copies go to other devices, no vendor to sign a BAA"
        if self.consumer:
            return "consumer service: no BAA possible"
        if self.register is None:
            return "not in the BAA register"
        return "BAA on file" if self.register.baa_on_file else "no BAA on file"

    @property
    def alert(self) -> bool:
        return self.consumer or self.register is None or not self.register.baa_on_file


def _register_match(vendor: str, register: tuple[Any, ...]) -> Any | None:
    low = vendor.lower()
    for entry in register:
        name = entry.vendor.lower()
        if name in low or low in name:
            return entry
    return None


def third_parties(run: ScanRun, register: tuple[Any, ...] = ()) -> tuple[list[ThirdParty], list[Any]]:
    """Vendors the scan saw, each beside its BAA register entry; and register entries not seen."""
    seen: dict[tuple[str, str], ThirdParty] = {}
    for r in run.results:
        if r.status not in (Status.PASS, Status.FAIL):
            continue
        for party in r.third_parties:  # set by the check that saw it (scanner.models.ThirdParty)
            tp = seen.setdefault((party.service, party.vendor),
                                 ThirdParty(party.vendor, party.service, [], False,
                                            _register_match(party.vendor, register),
                                            party.kind is ThirdPartyKind.PEER_TO_PEER))
            tp.seen_at.append(r.target.label())
            tp.consumer = tp.consumer or r.status is Status.FAIL
    matched = {id(tp.register) for tp in seen.values() if tp.register is not None}
    parties = sorted(seen.values(), key=lambda t: (not t.alert, t.service, t.vendor))
    return parties, [e for e in register if id(e) not in matched]


# ------------------------------------------------------------------ method and limits


@dataclass
class CheckRun:
    check_id: str
    counts: dict[str, int]


def checks_run(run: ScanRun) -> list[CheckRun]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in Status})
    for r in run.results:
        counts[r.check_id][r.status.value] += 1
    return [CheckRun(c, counts[c]) for c in sorted(counts)]


def not_tested(run: ScanRun, status: Status) -> list[CheckResult]:
    return sorted((r for r in run.results if r.status is status),
                  key=lambda r: (r.reason or "", r.check_id, r.target.label()))


@dataclass(frozen=True)
class SkipGroup:
    """Skips for one reason in the same words (e.g. no credentials) across checks and targets."""

    reason: str
    detail: str  # with each target's own address replaced by "this host"
    check_ids: tuple[str, ...]
    targets: tuple[str, ...]


def grouped_skips(run: ScanRun) -> list[SkipGroup]:
    """The skipped results, one row per (reason, wording): "no credential covers this host" said
    once for the 16 hosts and the 12 checks it stopped, not 192 times (the demo's skip table was
    nine printed pages)."""
    checks: dict[tuple[str, str], set[str]] = defaultdict(set)
    targets: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in not_tested(run, Status.SKIPPED):
        detail = r.detail.replace(r.target.host, "this host") if r.target.host else r.detail
        key = (r.reason or "—", detail)
        checks[key].add(r.check_id)
        if r.target.label() not in targets[key]:
            targets[key].append(r.target.label())
    groups = [SkipGroup(reason, detail, tuple(sorted(checks[(reason, detail)])), tuple(targets[(reason, detail)]))
              for (reason, detail) in checks]
    return _merge_per_service(groups)


def _merge_per_service(groups: list[SkipGroup]) -> list[SkipGroup]:
    """Rows of the same checks and reason, one service each, in different words ("this host:21
    STARTTLS on ftp: TLS not available (AUTH TLS refused)", "... on pop3 ... (STLS not in CAPA)"):
    one row whose detail names each service beside its own words."""
    # One wording for several targets is already one row (its own key); single-service rows of the
    # same checks and reason share a key. Keys keep the order of the groups.
    by_key: dict[object, list[SkipGroup]] = defaultdict(list)
    for g in groups:
        by_key[(g.reason, g.check_ids) if len(g.targets) == 1 else id(g)].append(g)
    merged = []
    for same in by_key.values():
        if len(same) < 2:
            merged.extend(same)
            continue
        details = "; ".join(f"{g.targets[0]}: {_without_own_port(g.detail)}" for g in same)
        merged.append(SkipGroup(same[0].reason, details, same[0].check_ids, tuple(g.targets[0] for g in same)))
    return merged


def _without_own_port(detail: str) -> str:
    """"this host:21 STARTTLS on ftp: ..." -> "STARTTLS on ftp: ..." once the row names the service."""
    return _OWN_PORT.sub("", detail, count=1)


_OWN_PORT = re.compile(r"^this host:\d+ ")


def credentialed_hosts(run: ScanRun) -> list[str]:
    """Hosts an endpoint collector logged on to (an endpoint result that is not a skip)."""
    return sorted({r.target.host for r in run.results if r.target.host and r.status is not Status.SKIPPED
                   and (r.check_id.startswith("endpoint.") or r.check_id == "cloudsync.client_installed")
                   and r.reason not in ("auth_failed", "host_key_refused", "refused", "unreachable", "timeout")})


# ------------------------------------------------------------------ recorded client decisions


def addressable(citations: tuple[str, ...] | list[str], framework: Framework) -> list[str]:
    """The addressable implementation specifications among a finding's citations: for those a
    documented decision not to implement (and what is done instead) is the 164.306(d)(3) record."""
    found = []
    for cite in citations:
        req = framework.requirement(cite)
        if req is not None and req.designation == "Addressable":
            found.append(cite)
    return found


def recommendation_decision(rec: Recommendation, decisions: Decisions | None) -> DecisionNote | None:
    """The decision filled in for a recommendation (one per check): the one that stands for every
    finding of the check (on the check or the same on each finding); an expired one only when
    nothing stands. None when findings were decided differently (section 5 lists them per place)."""
    if not decisions:
        return None
    per_finding = [decision_for(fp, rec.check_id, decisions) for fp in rec.fingerprints]
    standing = [d for d in per_finding if d is not None and not d.expired]
    if standing and len(standing) == len(per_finding):
        same = len({(d.decision, d.decided_by, d.decided_on, d.note, d.until) for d in standing}) == 1
        return standing[0] if same else None
    expired = [d for d in per_finding if d is not None and d.expired]
    return expired[0] if expired and not standing else None
