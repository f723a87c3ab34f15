"""The HIPAA side of the report: which safeguards apply to this practice, why each finding is a
gap against each of its citations (the rationale of that link in ``hipaa.yaml``), which NIST SP
800-66r2 key activity it is evidence for, and what to obtain where a scan cannot see.

The key activities come from the guide the interview uses (``scanner.config.interview_guide``:
``profiles/frameworks/nist-sp-800-66r2.yaml`` paired with ``interview.yaml``), so the report and
the interview never disagree. Pure functions over the catalogue, no I/O beyond the shipped data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reports.view import NOT_ASSESSED, SafeguardRow
from scanner.config.framework import Framework
from scanner.config.interview_guide import InterviewGuide, KeyActivity, load_guide
from scanner.models import CheckResult

# 45 CFR 164.314(b): requirements for group health plans. A dental office or clinic is not one;
# the client file says so with ``group_health_plan: true`` when the client is (default off).
GROUP_HEALTH_PLAN = "164.314(b)"
# A scan finding is an input to the risk analysis, never evidence that there is none: no check
# may be a gap against 164.308(a)(1)(ii)(A) (tests/unit/test_report_hipaa.py holds the mapping to it).
RISK_ANALYSIS = "164.308(a)(1)(ii)(A)"


def applicable_framework(framework: Framework, group_health_plan: bool = False) -> Framework:
    """The catalogue without the group-health-plan paragraphs, unless the practice is one."""
    if group_health_plan:
        return framework
    kept = tuple(r for r in framework.requirements if not r.citation.startswith(GROUP_HEALTH_PLAN))
    return framework.model_copy(update={"requirements": kept})


@dataclass(frozen=True)
class CitationNote:
    """Why one finding is a gap against one citation, and the key activity it is evidence for."""

    citation: str
    title: str
    designation: str
    rationale: str
    activity: KeyActivity | None


def key_activity(citation: str, guide: InterviewGuide) -> KeyActivity | None:
    """The NIST SP 800-66r2 key activity a finding against ``citation`` is evidence for: the one
    that carries out that implementation specification, else the standard's first activity."""
    found = guide.activities_for(citation)
    carrying = [a for a in found if citation in a.citations[1:]]
    own = [a for a in found if a.citations == (citation,)]
    chosen = carrying or own or found
    return chosen[0] if chosen else None


def citation_notes(result: CheckResult, framework: Framework,
                   guide: InterviewGuide | None = None) -> list[CitationNote]:
    guide = guide or load_guide()
    notes = []
    for cite in result.hipaa:
        req = framework.requirement(cite)
        if req is None:  # not applicable to this practice (164.314(b)) or an older catalogue
            continue
        link = next((c for c in req.checks if c.check == result.check_id), None)
        notes.append(CitationNote(cite, req.title, req.designation, link.rationale if link else "",
                                  key_activity(cite, guide)))
    return notes


# ------------------------------------------------------------------ not assessed by scan: what to obtain

# Per Security Rule standard (hipaa.yaml citation): the documents a reviewer asks to see. Our words,
# from what each standard asks the practice to have in writing (164.316(b) keeps them six years).
DOCUMENTS: dict[str, str] = {
    "164.308(a)(1)(i)": "the written risk analysis (with its date and scope) and the risk management plan; "
                        "the sanction policy; the log-review procedure and recent review records",
    "164.308(a)(2)": "the name of the security official and the written assignment of the role",
    "164.308(a)(3)(i)": "workforce access procedures: who authorizes access, clearance, and the leaver checklist",
    "164.308(a)(4)(i)": "the access authorization policy and a recent access review",
    "164.308(a)(5)(i)": "the security awareness training plan, attendance records, security reminders",
    "164.308(a)(6)(i)": "the incident response procedure and the incident log",
    "164.308(a)(7)(i)": "the contingency plan: backup, disaster recovery, emergency mode, test records, "
                        "application criticality list",
    "164.308(a)(8)": "the last periodic security evaluation (technical and non-technical)",
    "164.308(b)(1)": "signed business associate agreements, beside the list of vendors that handle ePHI",
    "164.310(a)(1)": "the facility security plan, door/key/alarm access records, maintenance records",
    "164.310(b)": "the workstation use policy",
    "164.310(c)": "how workstations are physically secured (placement, locks, screens facing away)",
    "164.310(d)(1)": "the device and media inventory, disposal and re-use records",
    "164.312(a)(1)": "the emergency access procedure",
    "164.312(b)": "what is logged on systems holding ePHI and who reviews it",
    "164.312(c)(1)": "how altered or destroyed ePHI would be detected",
    "164.312(d)": "how users are authenticated to systems holding ePHI",
    "164.312(e)(1)": "how ePHI sent over networks is protected",
    "164.314(a)(1)": "business associate contracts (and subcontractor terms)",
    "164.314(b)(1)": "the group health plan documents on the plan sponsor's safeguards",
    "164.316(a)": "the security policies and procedures, with their review dates",
    "164.316(b)(1)": "where documentation is kept, for how long (six years), and who can get it",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One standard whose specifications the scan could not assess: what to obtain and whom to ask."""

    citation: str
    title: str
    specifications: tuple[tuple[str, str, str], ...]  # (citation, title, designation) not assessed
    documents: str
    questions: tuple[tuple[str, str], ...]  # (key activity id, its first sample question)


def standard_of(framework: Framework, guide: InterviewGuide) -> dict[str, str]:
    """Each paragraph's standard: in catalogue order a paragraph follows its standard (the
    standards are those of NIST SP 800-66r2; 164.308(b)(2) and (b)(3) belong to 164.308(b)(1))."""
    standards = {s.citation for s in guide.standards}
    found: dict[str, str] = {}
    current = ""
    for req in framework.requirements:
        if req.citation in standards or not current:
            current = req.citation
        found[req.citation] = current
    return found


def assessment_checklist(rows: Sequence[SafeguardRow], framework: Framework,
                         guide: InterviewGuide | None = None) -> list[ChecklistItem]:
    """The "not assessed by scan" rows, folded into one item per standard."""
    guide = guide or load_guide()
    parent = standard_of(framework, guide)
    grouped: dict[str, list[SafeguardRow]] = {}
    for row in rows:
        if row.status != NOT_ASSESSED:
            continue
        std = parent.get(row.citation, row.citation)
        grouped.setdefault(std, []).append(row)
    items = []
    for std, members in grouped.items():
        req = framework.requirement(std)
        acts = [a for s in guide.standards if s.citation == std for a in s.activities]
        wanted = {m.citation for m in members}
        # the activities carrying out an unassessed specification first, then the standard's own
        ordered = [a for a in acts if set(a.citations[1:]) & wanted] + [a for a in acts if len(a.citations) == 1]
        questions = tuple((a.id, a.questions[0]) for a in ordered[:2] if a.questions)
        items.append(ChecklistItem(std, req.title if req else "", tuple(
            (m.citation, m.requirement.title, m.requirement.designation) for m in members if m.citation != std),
            DOCUMENTS.get(std, "the written policy and procedure for this standard"), questions))
    return items
