"""Client decisions on findings: the audit trail of what was accepted, declined or deferred.

Decisions are append-only: a new decision on the same subject (a fingerprint or a whole check
id) supersedes the older one, nothing is edited or deleted. A decision with an ``until`` date in
the past no longer stands: the finding comes back as open. Pure logic; the store persists them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from scanner.errors import InputError


class DecisionKind(StrEnum):
    """What the client decided about a finding."""

    ACCEPTED = "accepted"  # the client accepts the recommendation (will remediate)
    DECLINED = "declined"  # the client refuses it (the documented reason goes in the note)
    DEFERRED = "deferred"  # later, usually with --until
    COMPENSATING_CONTROL = "compensating-control"  # addressed another way (164.306(d)(3))


@dataclass(frozen=True)
class Decision:
    """One recorded decision, as stored (``seq`` orders a client's decisions)."""

    client: str
    seq: int
    subject: str
    subject_kind: str  # "fingerprint" or "check"
    decision: DecisionKind
    decided_by: str
    note: str | None
    until: date | None
    decided_at: str  # ISO-8601 UTC
    digest: str
    prev_digest: str | None

    def expired(self, today: date) -> bool:
        """Past its ``until`` date: the finding is open again."""
        return self.until is not None and self.until < today

    def describe(self) -> str:
        """One line for a report: "declined by Dr. Lee, owner, on 2026-11-23: cost"."""
        text = f"{self.decision.value} by {self.decided_by}, on {self.decided_at[:10]}"
        if self.until is not None:
            text += f", until {self.until.isoformat()}"
        return text + (f": {self.note}" if self.note else "")

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client, "seq": self.seq, "subject": self.subject, "subject_kind": self.subject_kind,
            "decision": self.decision.value, "decided_by": self.decided_by, "note": self.note,
            "until": self.until.isoformat() if self.until else None, "decided_at": self.decided_at,
            "digest": self.digest, "prev_digest": self.prev_digest,
        }


def decision_digest(*, client: str, seq: int, subject: str, subject_kind: str, decision: str, decided_by: str,
                    note: str | None, until: str | None, decided_at: str, prev_digest: str | None) -> str:
    """SHA-256 over the canonical JSON of every field of a decision and the previous digest."""
    payload = {
        "client": client, "seq": seq, "subject": subject, "subject_kind": subject_kind, "decision": decision,
        "decided_by": decided_by, "note": note, "until": until, "decided_at": decided_at,
        "prev_digest": prev_digest,
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_until(value: str | None) -> date | None:
    """``--until`` is a calendar date, YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{value!r} is not a date (expected YYYY-MM-DD)", source="--until") from exc


def parse_by(value: str) -> str:
    """``--by`` names a person and their role: "Dr. Lee, owner"."""
    name, _, role = value.partition(",")
    if not name.strip() or not role.strip():
        raise InputError(f"{value!r} must name the person and their role, e.g. \"Dr. Lee, owner\"",
                         source="--by")
    return f"{name.strip()}, {role.strip()}"


def standing(decisions: Iterable[Decision], today: date) -> dict[str, Decision]:
    """The decision that stands per subject: the latest one, unless it has expired."""
    latest: dict[str, Decision] = {}
    for item in sorted(decisions, key=lambda d: d.seq):
        latest[item.subject] = item
    return {subject: d for subject, d in latest.items() if not d.expired(today)}


def decision_for(fingerprint: str, check_id: str, standing_decisions: dict[str, Decision]) -> Decision | None:
    """A decision on the finding itself beats one on its whole check."""
    return standing_decisions.get(fingerprint) or standing_decisions.get(check_id)


def latest(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The latest decision per subject, expired or not (a report shows an expired one as open again)."""
    found: dict[str, Decision] = {}
    for item in sorted(decisions, key=lambda d: d.seq):
        found[item.subject] = item
    return found
