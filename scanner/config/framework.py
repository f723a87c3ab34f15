"""The HIPAA catalogue: citations, titles, designations and which checks give evidence for each.

The mapping is data (``profiles/frameworks/hipaa.yaml``), attached to checks at load time;
check authors never type citations. Reports read this catalogue to show, per safeguard,
*gap found*, *no gap observed* or *not assessed by scan*.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scanner.config.userfiles import load_model

CITATION_PATTERN = r"^164\.3(08|10|12|14|16)(\([a-zA-Z0-9]+\))+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckLink(Strict):
    check: str
    rationale: str = Field(min_length=10)


class Requirement(Strict):
    citation: str = Field(pattern=CITATION_PATTERN)
    title: str
    designation: Literal["Required", "Addressable", "Standard"]
    checks: tuple[CheckLink, ...] = ()

    @property
    def assessed_by_scan(self) -> bool:
        return bool(self.checks)


class Framework(Strict):
    framework: str
    title: str
    requirements: tuple[Requirement, ...]
    unmapped: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_duplicates(self) -> Framework:
        seen: set[str] = set()
        for req in self.requirements:
            if req.citation in seen:
                raise ValueError(f"citation {req.citation} is listed twice")
            seen.add(req.citation)
            linked: set[str] = set()
            for link in req.checks:
                if link.check in linked:
                    raise ValueError(f"{req.citation} links check {link.check} twice")
                linked.add(link.check)
        return self

    def citations_for(self, check_id: str) -> tuple[str, ...]:
        """Citations a check gives evidence for, in catalogue order."""
        return tuple(r.citation for r in self.requirements if any(c.check == check_id for c in r.checks))

    def requirement(self, citation: str) -> Requirement | None:
        return next((r for r in self.requirements if r.citation == citation), None)

    def mapped_check_ids(self) -> set[str]:
        return {link.check for r in self.requirements for link in r.checks}


def citation_sort_key(citation: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[0-9.]+|[a-z]+", citation))


def default_framework_path() -> Path:
    return Path(str(resources.files("profiles").joinpath("frameworks", "hipaa.yaml")))


@lru_cache(maxsize=4)
def load_framework(path: Path | None = None) -> Framework:
    return load_model(path or default_framework_path(), Framework)
