"""The rows of the owner's decision sheet: the remediation projects of a run.

Issue 17 (``reports/projects.py``, being built beside this) groups findings into plain-language
remediation projects. Until it lands, this adapter gives the same shape from what main has: one
project per failed check (``reports.view.recommendations``), with the HIPAA citations and their
designations from the catalogue. The sign-off page and the decision record use only this shape.

A key activity the practice answered "not in place" in the interview is a finding of its own
and a row of its own (``interview_projects``): its decisions use the subject
``interview:<key activity id>`` in the decision chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reports import view
from scanner.config.framework import Framework
from scanner.config.interview_guide import InterviewGuide
from scanner.history.interviews import InterviewAnswer, interview_subject
from scanner.models import ScanRun, Severity


@dataclass(frozen=True)
class Citation:
    citation: str
    title: str
    designation: str  # Required / Addressable / Standard

    def label(self) -> str:
        return f"{self.citation} {self.title} ({self.designation})"


@dataclass(frozen=True)
class Project:
    """One remediation project: what to do about a group of findings."""

    project_id: str
    title: str
    what_to_do: str
    risk: Severity
    citations: tuple[Citation, ...]
    fingerprints: tuple[str, ...]
    places: tuple[str, ...]

    @property
    def required(self) -> bool:
        """Cites a Required implementation specification (45 CFR 164.306(d)(2)): it must be implemented."""
        return any(c.designation == "Required" for c in self.citations)


def projects(run: ScanRun, framework: Framework) -> list[Project]:
    found = []
    for rec in view.recommendations(run):
        cites = []
        for cite in rec.hipaa:
            req = framework.requirement(cite)
            if req is not None:
                cites.append(Citation(cite, req.title, req.designation))
        found.append(Project(project_id=rec.check_id, title=rec.title, what_to_do=rec.remediation,
                             risk=rec.severity, citations=tuple(cites), fingerprints=tuple(rec.fingerprints),
                             places=tuple(rec.targets)))
    return found


def interview_projects(open_answers: dict[str, InterviewAnswer], guide: InterviewGuide,
                       framework: Framework) -> list[Project]:
    """One row per key activity answered "not in place", in the guide's order. Risk: high where it
    carries out a Required specification, else medium (the report's risk analysis rates it)."""
    found = []
    for act_id, act in guide.activities().items():
        answer = open_answers.get(act_id)
        if answer is None:
            continue
        cites = tuple(Citation(c, r.title, r.designation) for c in act.citations
                      if (r := framework.requirement(c)) is not None)
        todo = f"Put in place what NIST SP 800-66r2 describes for “{act.name}”"
        todo += f" ({act.specification})." if act.specification else "."
        if answer.notes:
            todo += f" Said in the interview: {answer.notes}"
        project = Project(project_id=interview_subject(act_id), title=f"Not in place (interview): {act.name}",
                          what_to_do=todo, risk=Severity.MEDIUM, citations=cites,
                          fingerprints=(interview_subject(act_id),),
                          places=(f"interview of {answer.answered_at[:10]}, answered by {answer.answered_by}",))
        found.append(replace(project, risk=Severity.HIGH) if project.required else project)
    return found
