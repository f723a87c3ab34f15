"""Remediation projects: the failed findings of a run grouped into the few pieces of work a practice
owner decides on (file server, e-mail, remote access, ...), each rated and ranked by risk.

- Membership is data (``reports/data/projects.yaml``): every check belongs to one project.
- Identical findings (one check) on several places are one *item* that lists its places; checks
  that look at one setting (``smtp.tls_weak`` and ``tls.legacy_protocol``) on the same port are one
  place of one item.
- Each place is rated on its asset (``reports.risk``); an item and a project take their highest
  rating; projects are ranked by it, never by how many places a finding was seen at.
- A key activity the practice answered "not in place" in the interview is a project of its own
  (its id is the decision subject ``interview:<key activity>``).

The decision sheet (report section, web sign-off page) has one row per project; a decision on a
project applies to its findings' fingerprints. Pure functions, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from reports.annotations import Catalogue, DecisionNote, Decisions, decision_for
from reports.assets import AssetBook, AssetView
from reports.client_file import ClientFile
from reports.interview_view import Interview, InterviewFinding, InterviewNote, interview_findings
from reports.project_data import OTHER, OTHER_PROJECT, ProjectData, ProjectDef, load_project_data
from reports.risk import Rating, RiskInput, rate
from reports.view import why
from scanner.config.framework import Framework, citation_sort_key
from scanner.models import CheckResult, ScanRun, Status


@dataclass(frozen=True)
class Citation:
    citation: str
    title: str
    designation: str  # Required / Addressable / Standard

    def label(self) -> str:
        return f"{self.citation} {self.title} ({self.designation})"


@dataclass(frozen=True)
class Place:
    """Where an item was found, with the rating on that place's asset."""

    label: str  # "Front desk PC (198.18.0.40) port 5900 vnc"
    asset: AssetView | None
    results: tuple[CheckResult, ...]  # the failed results at this place (one per check of the item)
    rating: Rating

    @property
    def host(self) -> str:
        """The device or domain a ticket is for ("Front desk PC (198.18.0.40)", "weak-clinic.test")."""
        return self.asset.label if self.asset is not None else self.label


@dataclass(frozen=True)
class Item:
    """One piece of work inside a project: one finding (or one setting) and every place it was seen."""

    key: str  # the check id, the setting name, or "interview:<key activity>"
    title: str
    check_ids: tuple[str, ...]
    why: str
    remediation: str
    hipaa: tuple[str, ...]
    places: tuple[Place, ...]
    interview: InterviewNote | None = None

    @cached_property
    def rating(self) -> Rating:
        return max((p.rating for p in self.places), key=Rating.key)

    def sort_key(self) -> tuple[int, int, int, int, str]:
        """Highest risk first; among equals the finding the check judged worse, then the most places."""
        worst = max((r.severity.rank for r in self.results), default=0)
        return -self.rating.level, -self.rating.score, -worst, -len(self.places), self.key

    @cached_property
    def results(self) -> list[CheckResult]:
        return [r for p in self.places for r in p.results]

    @cached_property
    def interview_evidence(self) -> dict[str, str]:
        """What an auditor asks to see of an interview finding (the NIST key activity, who said what)."""
        return InterviewFinding(self.interview).evidence if self.interview is not None else {}

    @cached_property
    def fingerprints(self) -> tuple[str, ...]:
        if self.interview is not None:
            return (f"interview:{self.interview.key_activity}",)
        return tuple(r.fingerprint for r in self.results)


@dataclass(frozen=True)
class Project:
    """One row of the owner's decision sheet."""

    project_id: str
    title: str
    what_to_do: str
    effort: str
    items: tuple[Item, ...]
    citations: tuple[Citation, ...]
    from_interview: bool = False

    @cached_property
    def rating(self) -> Rating:
        return max((i.rating for i in self.items), key=Rating.key)

    @cached_property
    def required(self) -> bool:
        """Cites a Required implementation specification (45 CFR 164.306(d)(2)): it must be implemented."""
        return any(c.designation == "Required" for c in self.citations)

    @cached_property
    def addressable(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if c.designation == "Addressable")

    @cached_property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(fp for i in self.items for fp in i.fingerprints)

    @cached_property
    def places(self) -> tuple[str, ...]:
        """Every device or domain the project touches, once each, in rating order."""
        seen: dict[str, None] = {}
        for item in self.items:
            for place in item.places:
                seen.setdefault(place.host, None)
        return tuple(seen)

    @cached_property
    def check_subjects(self) -> tuple[tuple[str, str], ...]:
        """(fingerprint, check id) of every finding: what a decision on the project applies to."""
        pairs = [(r.fingerprint, r.check_id) for i in self.items for r in i.results]
        pairs += [(fp, fp) for i in self.items if i.interview is not None for fp in i.fingerprints]
        return tuple(pairs)


@dataclass
class _Group:
    project: str
    title: str
    check_ids: list[str] = field(default_factory=list)
    by_place: dict[str, list[CheckResult]] = field(default_factory=lambda: defaultdict(list))


def _place_key(r: CheckResult) -> str:
    t = r.target
    if t.host:
        return f"{t.host}|{t.port if t.port is not None else ''}"
    return f"domain|{t.domain}" if t.domain else f"other|{t.label()}"


def _citations(codes: set[str] | tuple[str, ...], framework: Framework) -> tuple[Citation, ...]:
    found = []
    for code in sorted(set(codes), key=citation_sort_key):
        req = framework.requirement(code)
        if req is not None:
            found.append(Citation(code, req.title, req.designation))
    return tuple(found)


def _items_from_results(run: ScanRun, data: ProjectData, book: AssetBook, client: ClientFile | None,
                        checks: Catalogue | None) -> dict[str, list[Item]]:
    failed = [r for r in run.results if r.status is Status.FAIL]
    # Checks on one setting are one item only where more than one of them fired at the same place.
    fired: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in failed:
        place = data.place_of(r.check_id)
        if place is not None and place.setting:
            fired[(place.setting, _place_key(r))].add(r.check_id)
    groups: dict[str, _Group] = {}
    for r in failed:
        place = data.place_of(r.check_id)
        project = place.project if place is not None else OTHER
        key = r.check_id
        if place is not None and place.setting and len(fired[(place.setting, _place_key(r))]) > 1:
            key = place.setting
            owner = data.place_of(data.settings[place.setting].checks[0])
            project = owner.project if owner is not None else project
        group = groups.setdefault(key, _Group(project, data.settings[key].title if key in data.settings else r.title))
        if r.check_id not in group.check_ids:
            group.check_ids.append(r.check_id)
        group.by_place[_place_key(r)].append(r)
    items: dict[str, list[Item]] = defaultdict(list)
    for key, group in groups.items():
        places = []
        for results in group.by_place.values():
            asset = book.for_target(results[0].target)
            ratings = [rate(r.check_id, group.project, data.place_of(r.check_id), r.severity, asset, client)
                       for r in results]
            places.append(Place(book.place_label(results[0].target), asset, tuple(results),
                                max(ratings, key=Rating.key)))
        places.sort(key=lambda p: (-p.rating.level, -p.rating.score, p.label))
        first = group.check_ids[0]
        sample = next(r for p in places for r in p.results if r.check_id == first)
        remediation = " ".join(dict.fromkeys(
            next(r.remediation for p in places for r in p.results if r.check_id == c) for c in group.check_ids))
        hipaa = tuple(dict.fromkeys(h for p in places for r in p.results for h in r.hipaa))
        items[group.project].append(Item(key=key, title=group.title if len(group.check_ids) > 1 else sample.title,
                                          check_ids=tuple(group.check_ids), why=why(first, checks),
                                          remediation=remediation, hipaa=hipaa, places=tuple(places)))
    return items


# A missing administrative safeguard makes every threat it is meant to counter likelier (NIST SP
# 800-30 Rev. 1, Appendix F: a predisposing condition); its impact is practice-wide.
def _interview_rating(note: InterviewNote, required: bool) -> Rating:
    impact = 4 if required else 3
    inputs = (
        RiskInput("what the interview found", f"“{note.activity}” is not in place ({note.describe()})",
                  "likelihood moderate: a missing safeguard is a predisposing condition for every threat it counters"),
        RiskInput("holds ePHI", "practice-wide (an administrative or physical safeguard covers all ePHI)",
                  f"impact {'high: it carries out a Required specification' if required else 'moderate'}"),
    )
    return Rating(3, impact, inputs)


def _interview_projects(interview: Interview | None, framework: Framework) -> list[Project]:
    """One project per key activity answered "not in place" (its id is the decision subject)."""
    found = []
    for finding in interview_findings(interview):
        note = finding.note
        cites = _citations(note.citations, framework)
        todo = f"Put in place what NIST SP 800-66r2 describes for “{note.activity}” ({note.standard})."
        if note.notes:
            todo += f" Said in the interview: {note.notes}"
        place = Place(f"interview of {note.answered_on}, answered by {note.answered_by}", None, (),
                      _interview_rating(note, any(c.designation == "Required" for c in cites)))
        item = Item(key=finding.subject, title=finding.title, check_ids=(),
                    why=note.question or f"The interview found “{note.activity}” not in place.", remediation=todo,
                    hipaa=note.citations, places=(place,), interview=note)
        found.append(Project(project_id=finding.subject, title=finding.title, what_to_do=todo,
                             effort="a written procedure, training or a contract", items=(item,), citations=cites,
                             from_interview=True))
    return found


def remediation_projects(run: ScanRun, framework: Framework, *, client: ClientFile | None = None,
                         checks: Catalogue | None = None, interview: Interview | None = None,
                         data: ProjectData | None = None) -> list[Project]:
    """The projects of a run, highest risk first (then likelihood x impact, then the data file's order)."""
    data = data or load_project_data()
    book = AssetBook(run, client)
    found = []
    for project_id, items in _items_from_results(run, data, book, client, checks).items():
        definition: ProjectDef = data.projects.get(project_id, OTHER_PROJECT)
        items.sort(key=Item.sort_key)
        codes = {h for i in items for h in i.hipaa}
        found.append(Project(project_id=project_id, title=definition.title, what_to_do=definition.what_to_do,
                             effort=definition.effort, items=tuple(items), citations=_citations(codes, framework)))
    found += _interview_projects(interview, framework)
    order = {p: i for i, p in enumerate(data.order())}
    return sorted(found, key=lambda p: (-p.rating.level, -p.rating.score, order.get(p.project_id, len(order)),
                                        p.project_id))


def ranked_items(projects: list[Project], limit: int | None = None) -> list[tuple[Item, Project]]:
    """Every item, highest risk first: the report's "most important risks"."""
    pairs = [(item, p) for p in projects for item in p.items]
    pairs.sort(key=lambda pair: pair[0].sort_key())
    return pairs[:limit] if limit is not None else pairs


DECISION_DAYS = 30  # the default time the practice is given to decide, from the scan


def decision_deadline(run: ScanRun, client: ClientFile | None) -> date:
    """The date the letter and the decision sheet ask for a decision by (client file ``letter.decision_by``)."""
    chosen = client.letter.decision_by if client is not None else None
    return chosen or run.started_at.date() + timedelta(days=DECISION_DAYS)


@dataclass(frozen=True)
class ProjectDecision:
    """What ``gapscan decide`` (or an earlier sign-off) recorded on a project's findings."""

    standing: DecisionNote | None  # the one decision that stands on every finding, if there is one
    decided: int  # findings with a standing decision
    total: int
    expired: DecisionNote | None = None  # a decision that no longer stands (shown as open again)

    @property
    def partial(self) -> bool:
        return self.standing is None and self.decided > 0


def project_decision(project: Project, decisions: Decisions | None) -> ProjectDecision:
    """A decision on a project applies to its findings' fingerprints: the row shows it when every
    finding carries the same standing decision (on the finding or on its whole check)."""
    subjects = project.check_subjects
    notes = [decision_for(fp, check, decisions) for fp, check in subjects]
    standing = [n for n in notes if n is not None and not n.expired]
    expired = next((n for n in notes if n is not None and n.expired), None)
    same = len({(n.decision, n.decided_by, n.decided_on, n.note, n.until) for n in standing}) == 1
    whole = standing[0] if standing and len(standing) == len(subjects) and same else None
    return ProjectDecision(whole, len(standing), len(subjects), expired if not standing else None)
