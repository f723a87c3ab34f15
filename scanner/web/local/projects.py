"""The rows of the owner's decision sheet: the remediation projects of a run.

Issue 17 (``reports/projects.py``, being built beside this) groups findings into plain-language
remediation projects. Until it lands, this adapter gives the same shape from what main has: one
project per failed check (``reports.view.recommendations``), with the HIPAA citations and their
designations from the catalogue. The sign-off page and the decision record use only this shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports import view
from scanner.config.framework import Framework
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
