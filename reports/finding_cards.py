"""Findings as the report prints them: one card per check, with every place it was found.

The same problem on seven domains or four ports is one card with a list of places, not seven
cards (issue 17). Cards are numbered like the discs of the risk matrix (``reports.pictures``):
worst risk first, so card 3 is disc 3. Citations come from the current catalogue (a saved run is
re-judged with today's mapping), each with the rationale of its link and its NIST key activity.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.hipaa_view import CitationNote, citation_notes
from reports.pictures.inputs import MatrixItem, RiskFrom, check_groups, matrix_items, placeholder_risk
from scanner.config.framework import Framework
from scanner.models import CheckResult, ScanRun, Severity

EVIDENCE_PRINT_CHARS = 360  # per evidence record in the printed appendix; scan.json (attached) has it all


@dataclass(frozen=True)
class FindingCard:
    number: int
    check_id: str
    title: str
    severity: Severity
    results: tuple[CheckResult, ...]  # one per place, by place
    citations: tuple[CitationNote, ...]
    remediation: str
    item: MatrixItem


def finding_cards(run: ScanRun, framework: Framework, risk_from: RiskFrom = placeholder_risk) -> list[FindingCard]:
    groups = check_groups(run)
    by_title = {title: rs for title, rs in groups}
    cards = []
    for item in matrix_items(groups, risk_from):
        rs = sorted(by_title[item.label], key=lambda r: r.target.label())
        first = rs[0]
        current = framework.citations_for(first.check_id)
        probe = first.model_copy(update={"hipaa": current or first.hipaa})
        worst = max((r.severity for r in rs), key=lambda s: s.rank)
        cards.append(FindingCard(item.number, first.check_id, first.title, worst, tuple(rs),
                                 tuple(citation_notes(probe, framework)), first.remediation, item))
    return cards


def printed_evidence(text: str, limit: int = EVIDENCE_PRINT_CHARS) -> str:
    """An evidence record as the appendix prints it: whole when short, else its head and a pointer
    to the complete record in the attached scan.json."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text) - limit} more characters in the attached scan.json]"
