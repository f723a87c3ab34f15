"""Plain data the CLI hands to the renderers besides the run: the client's recorded decisions
and the catalogue of what each check says about itself.

Renderers never open the history store (docs/design.md): the CLI loads the decisions of a stored
client and converts them into these frozen values, keyed by subject (a finding's fingerprint or
a whole check id). A decision past its ``until`` date is passed with ``expired=True`` so the
report can show the finding as open again. Renderers never import the checks either: the CLI
builds the ``Catalogue`` (title, why it matters, remediation per check id) from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scanner.models import CheckText


@dataclass(frozen=True)
class DecisionNote:
    """The latest decision recorded on one subject, as a report shows it."""

    subject: str
    decision: str  # accepted | declined | deferred | compensating-control
    decided_by: str  # "Dr. Lee, owner"
    decided_on: str  # YYYY-MM-DD
    note: str | None = None
    until: str | None = None  # YYYY-MM-DD
    expired: bool = False

    def describe(self) -> str:
        """"declined by Dr. Lee, owner, on 2026-11-23: cost"."""
        text = f"{self.decision} by {self.decided_by}, on {self.decided_on}"
        if self.until:
            text += f", until {self.until}"
        return text + (f": {self.note}" if self.note else "")


Decisions = Mapping[str, DecisionNote]
Catalogue = Mapping[str, CheckText]  # check id -> its own words (scanner.engine.registry.Registry.catalogue)


def decision_for(fingerprint: str, check_id: str, decisions: Decisions | None) -> DecisionNote | None:
    """The decision shown beside a finding: a standing one on the finding beats one on its check;
    an expired one is returned only when nothing stands (the report shows it as open again)."""
    if not decisions:
        return None
    found = [d for d in (decisions.get(fingerprint), decisions.get(check_id)) if d is not None]
    standing = [d for d in found if not d.expired]
    chosen = standing or found
    return chosen[0] if chosen else None
