"""The interview guide: NIST SP 800-66r2 key activities and sample questions per Security Rule standard.

The publication's text ships in ``profiles/frameworks/nist-sp-800-66r2.yaml`` (NIST SP 800-66
Rev. 2, *Implementing the HIPAA Security Rule: A Cybersecurity Resource Guide*, February 2024,
Section 5; from NIST's CPRT catalog). ``profiles/frameworks/interview.yaml`` pairs every key
activity with the paragraph(s) of 45 CFR 164.308-164.316 it gives evidence for, in the citation
form of the HIPAA catalogue (``hipaa.yaml``), so interview answers can stand beside scan results
in the safeguard matrix.

In the catalog an implementation specification follows the key activity that carries it out as
an entry of its own ("Implementation Specification (Required)", no questions). Such entries are
folded into that activity here: what is asked is the activity, what is shown with it is the
specification (its words where the data has them, else the catalogue's title) and designation.
The report reads the same file (``scanner.config.framework.load_nist_guide`` of issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from scanner.config.framework import Framework, load_framework

SOURCE = ("NIST SP 800-66 Rev. 2, Implementing the HIPAA Security Rule: A Cybersecurity Resource Guide "
          "(February 2024), Section 5: key activities and sample questions")
_DESIGNATIONS = {"R": "Required", "A": "Addressable"}


class GuideError(ValueError):
    """The shipped guide data is inconsistent (a packaging bug, caught by the unit tests)."""


@dataclass(frozen=True)
class KeyActivity:
    """One key activity a practice is asked about."""

    id: str  # "164.308(a)(1)-2": the publication's standard citation and the entry's place
    name: str
    description: str
    questions: tuple[str, ...]
    citations: tuple[str, ...]  # hipaa.yaml paragraphs it answers: its standard, then its specification(s)
    specification: str | None = None  # the implementation specification's text, where it carries one out
    designation: str | None = None  # Required / Addressable (of that specification)


@dataclass(frozen=True)
class Standard:
    """One Security Rule standard with its key activities, in the publication's order."""

    nist_citation: str  # "164.310(a)", as the publication writes it
    citation: str  # "164.310(a)(1)", as 45 CFR and hipaa.yaml write it
    title: str
    text: str
    activities: tuple[KeyActivity, ...]

    @property
    def slug(self) -> str:
        """The standard's part of a URL: its publication citation (parentheses and dots are URL-safe)."""
        return self.nist_citation


@dataclass(frozen=True)
class InterviewGuide:
    source: str
    standards: tuple[Standard, ...]

    def standard(self, slug: str) -> Standard | None:
        return next((s for s in self.standards if s.slug == slug), None)

    def activity(self, activity_id: str) -> KeyActivity | None:
        return self.activities().get(activity_id)

    def activities(self) -> dict[str, KeyActivity]:
        return {a.id: a for s in self.standards for a in s.activities}

    def standard_of(self, activity_id: str) -> Standard | None:
        return next((s for s in self.standards if any(a.id == activity_id for a in s.activities)), None)

    def activities_for(self, citation: str) -> list[KeyActivity]:
        """Key activities whose answers are evidence for a hipaa.yaml paragraph."""
        return [a for s in self.standards for a in s.activities if citation in a.citations]


def _text(value: Any) -> str:
    return "\n".join(" ".join(line.split()) for line in str(value or "").strip().split("\n") if line.strip())


def _is_specification(entry: dict[str, Any]) -> bool:
    return str(entry.get("name", "")).startswith("Implementation Specification")


def build_guide(nist: dict[str, Any], pairing: dict[str, Any], framework: Framework) -> InterviewGuide:
    """Join the publication's entries with the citation pairing; every citation must be in the framework."""
    known = {r.citation for r in framework.requirements}
    std_map: dict[str, str] = pairing.get("standards") or {}
    act_map: dict[str, list[str]] = pairing.get("key_activities") or {}
    used: set[str] = set()
    standards = []
    for raw in nist.get("standards") or []:
        nist_cite = str(raw["citation"])
        if nist_cite not in std_map:
            raise GuideError(f"standard {nist_cite} has no paragraph in interview.yaml")
        std_cite = std_map[nist_cite]
        entries = list(raw.get("key_activities") or [])
        activities: list[KeyActivity] = []
        for i, entry in enumerate(entries):
            if _is_specification(entry):
                continue
            spec = entries[i + 1] if i + 1 < len(entries) and _is_specification(entries[i + 1]) else None
            specs = tuple(act_map.get(entry["id"], ()))
            cites = (std_cite, *specs)
            if entry["id"] in act_map:
                used.add(entry["id"])
            elif spec is not None:
                raise GuideError(f"key activity {entry['id']} carries out a specification but interview.yaml "
                                 "does not say which")
            for cite in cites:
                if cite not in known:
                    raise GuideError(f"{entry['id']}: {cite} is not a citation of the HIPAA catalogue")
            designation = _DESIGNATIONS.get(str(spec.get("requirement"))) if spec else None
            if spec is not None and designation is None:  # "(Log-in Monitoring)": the catalogue knows it
                designation = next((r.designation for r in framework.requirements if r.citation == specs[0]), None)
            activities.append(KeyActivity(
                id=str(entry["id"]), name=_text(entry["name"]), description=_text(entry.get("description")),
                questions=tuple(_text(q) for q in entry.get("questions") or []), citations=cites,
                specification=_spec_text(spec, specs, framework) if spec else None, designation=designation))
        standards.append(Standard(nist_citation=nist_cite, citation=std_cite, title=_text(raw["title"]),
                                  text=_text(raw.get("standard_text")), activities=tuple(activities)))
    stray = sorted(set(act_map) - used)
    if stray:
        raise GuideError(f"interview.yaml pairs unknown key activities: {', '.join(stray)}")
    return InterviewGuide(source=SOURCE, standards=tuple(standards))


def _spec_text(spec: dict[str, Any], specs: tuple[str, ...], framework: Framework) -> str:
    """The specification's words from the publication, else (a copy without descriptions) its titles."""
    if spec.get("description"):
        return _text(spec["description"])
    titles = [r.title for c in specs if (r := framework.requirement(c)) is not None]
    return "; ".join(titles)


def _data(name: str) -> Any:
    return yaml.safe_load(resources.files("profiles").joinpath("frameworks", name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_guide() -> InterviewGuide:
    """The shipped guide (cached: it is read-only data)."""
    return build_guide(_data("nist-sp-800-66r2.yaml"), _data("interview.yaml"), load_framework())
