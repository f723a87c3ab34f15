"""report.html: the HIPAA gap report, one self-contained file (inline CSS and SVG, no scripts).

Every string that came off the network is escaped (jinja2 autoescape); zero-width and bidi
characters are shown as visible escapes; a Content-Security-Policy meta forbids remote loads.
The only image is the MSP logo, embedded as a data: URI. Wording says "gap against" a
safeguard, never "compliant". The same HTML, with its print CSS, is the PDF (pdf_report.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reports import risk, view
from reports.annotations import Catalogue, Decisions, decision_for
from reports.assets import AssetBook
from reports.client_file import ClientFile
from reports.hipaa_view import applicable_framework, assessment_checklist, citation_notes
from reports.interview_view import Interview, matrix_answer
from reports.pictures.context import picture_context
from reports.pictures.inputs import RiskFrom, RiskLevel, placeholder_risk
from reports.projects import Project, decision_deadline, project_decision, ranked_items, remediation_projects
from reports.risk import Rating
from scanner.config.framework import Framework, load_framework
from scanner.models import CheckResult, ScanRun, Status

# Zero-width and bidirectional-override characters make text read differently from what the
# server sent (CVE-2021-42574, "Trojan Source"): shown as visible escapes, never rendered.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(value: Any) -> Any:
    # Markup is built by the report itself (the pictures: every text in it already escaped)
    if isinstance(value, str) and not isinstance(value, Markup):
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value


def _pretty_json(value: Any) -> str:
    """Plain text (not Markup), so autoescape escapes it like any other string."""
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)


def _compact_json(value: Any) -> str:
    """The whole evidence on few lines, for the printed appendix (plain text: autoescaped)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, separators=(", ", ": "))




def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.strftime(fmt) if value else "—"


def _failed_titles(results: Sequence[Any]) -> list[tuple[str, int]]:
    """A matrix row's problems: each title once, with how many places it was found."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.title] = counts.get(r.title, 0) + 1
    return list(counts.items())


def _project_numbers(projects: Sequence[Any]) -> Callable[[Sequence[Any]], list[int]]:
    """The numbers (as printed in section 3) of the projects that hold any of some results."""
    number = {r.fingerprint: n for n, p in enumerate(projects, 1) for i in p.items for r in i.results}
    return lambda results: sorted({number[r.fingerprint] for r in results if r.fingerprint in number})


_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_visible,
)
_ENV.filters["pretty_json"] = _pretty_json
_ENV.filters["compact_json"] = _compact_json
_ENV.filters["when"] = _when


def _three_point(level: int) -> int:
    """NIST SP 800-30's five qualitative levels on the pictures' 3-point axes: very low and low ->
    low, moderate -> moderate, high and very high -> high."""
    return 1 if level <= 2 else 2 if level == 3 else 3


def project_risk(projects: Sequence[Project]) -> RiskFrom:
    """The pictures' rating of a set of results: the worst rating the risk analysis gave any of them
    (reports.risk, section 6), so the map, the matrix and the cards agree."""
    ratings: dict[str, Rating] = {r.fingerprint: place.rating for p in projects for i in p.items
                                  for place in i.places for r in place.results}

    def rate(results: Sequence[CheckResult]) -> RiskLevel:
        rated = [ratings[r.fingerprint] for r in results if r.fingerprint in ratings]
        if not rated:
            return placeholder_risk(results)
        worst = max(rated, key=lambda x: (x.level, x.score))
        return RiskLevel(_three_point(worst.likelihood), _three_point(worst.impact),
                         basis="the risk rating of section 6 (NIST SP 800-30), on three points")
    return rate


def report_context(run: ScanRun, client: ClientFile | None = None, framework: Framework | None = None,
                   logo: str | None = None, decisions: Decisions | None = None,
                   checks: Catalogue | None = None, anchor: str | None = None,
                   interview: Interview | None = None, attached_scan: bool = False,
                   trend: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Everything the template shows; also used by tests to check the numbers behind the words.
    ``trend``: the client's open gaps per run (``scanner.history.drift.trend`` rows), for the trend picture."""
    group_health_plan = bool(client and client.group_health_plan)
    framework = applicable_framework(framework or load_framework(), group_health_plan)
    projects = remediation_projects(run, framework, client=client, checks=checks, interview=interview)
    book = AssetBook(run, client)
    matrix = view.safeguard_matrix(run, framework)
    recs = view.recommendations(run)
    parties, register_unseen = view.third_parties(run, client.baa_register if client else ())
    status_counts = {s: sum(1 for r in matrix if r.status == s) for s in (view.GAP_FOUND, view.NO_GAP,
                                                                          view.NOT_ASSESSED)}
    groups = view.finding_groups(run, framework)
    ordered = [r for p in projects for i in p.items for r in i.results if r.evidence]
    return {
        "projects": projects,
        "top_items": ranked_items(projects, 5),
        "project_decision": lambda project: project_decision(project, decisions),
        "decide_by": decision_deadline(run, client),
        "risk_method": risk.METHOD,
        "risk_levels": risk.LEVELS,
        "risk_table": risk.RISK,
        "overrides": client.risk_overrides if client else (),
        "unknown_devices": book.unknown_devices(),
        "device_rows": book.device_rows(),
        "other_assets": book.other_assets(),
        "matrix_answer": lambda citation: matrix_answer(citation, interview),
        "ordered_evidence": ordered,
        "run": run,
        "evidence_no": {r.fingerprint: i for i, r in enumerate(ordered, 1)},
        "client": client,
        "logo": logo,
        "digest": view.scan_digest(run),
        "severities": [s.value for s in view.SEVERITIES],
        "matrix": matrix,
        "parts": view.PARTS,
        "status_counts": status_counts,
        "heat": view.heat_map(matrix),
        "heat_colours": view.HEAT_COLOURS,
        "groups": groups,
        "why": lambda check_id: view.why(check_id, checks),
        "recs": recs,
        "top_risks": view.top_risks(recs),
        "parties": parties,
        "register_unseen": register_unseen,
        "checks_run": view.checks_run(run),
        "skipped": view.grouped_skips(run),
        "credentialed": view.credentialed_hosts(run),
        "errors": view.not_tested(run, Status.ERROR),
        "GAP_FOUND": view.GAP_FOUND,
        "NO_GAP": view.NO_GAP,
        "NOT_ASSESSED": view.NOT_ASSESSED,
        "framework": framework,
        "decision_for": lambda fp, check: decision_for(fp, check, decisions),
        "rec_decision": lambda rec: view.recommendation_decision(rec, decisions),
        "addressable": lambda cites: view.addressable(cites, framework),
        "has_decisions": bool(decisions),
        "anchor": anchor,  # the history chain heads the report was made from (gapscan verify --anchor)
        "attached_scan": attached_scan,  # the PDF carries scan.json as an embedded file (PDF/A-3)
        "answered_citations": [row.citation for row in matrix if matrix_answer(row.citation, interview)],
        # Today's mapping, not the one recorded in the run (a saved run is re-judged, like the matrix).
        "citation_notes": lambda result: citation_notes(result.model_copy(update={
            "hipaa": framework.citations_for(result.check_id) or result.hipaa}), framework),
        "checklist": assessment_checklist(matrix, framework),
        "group_health_plan": group_health_plan,
        "failed_titles": _failed_titles,
        "project_numbers": _project_numbers(projects),
        **picture_context(run, matrix, trend, risk_from=project_risk(projects),
                          groups=[(p.title, [r for i in p.items for r in i.results]) for p in projects],
                          known=book.inventory_names()),
    }


def html_text(run: ScanRun, client: ClientFile | None = None, logo: str | None = None,
              decisions: Decisions | None = None, checks: Catalogue | None = None, anchor: str | None = None,
              interview: Interview | None = None, *, attached_scan: bool = False,
              trend: Sequence[Mapping[str, Any]] = ()) -> str:
    return _ENV.get_template("report.html.j2").render(**report_context(run, client, logo=logo, decisions=decisions,
                                                                        checks=checks, anchor=anchor,
                                                                        interview=interview,
                                                                        attached_scan=attached_scan, trend=trend))


def render_html(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None, interview: Interview | None = None,
               trend: Sequence[Mapping[str, Any]] = ()) -> Path:
    path.write_text(html_text(run, client, logo, decisions, checks, anchor, interview, trend=trend), encoding="utf-8")
    return path
