"""Interview answers: what the practice said about each NIST SP 800-66r2 key activity.

Answers are facts people add beside the scan (docs/design.md): append-only and hash-chained per
client like decisions. A later answer on the same key activity supersedes the earlier one;
nothing is edited or deleted. Pure logic; the store persists them, ``scanner.web`` and
``gapscan interview import`` write them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class AnswerKind(StrEnum):
    """How far a key activity is in place at the practice, in the practice's own words."""

    IN_PLACE = "in-place"
    PARTLY = "partly"
    NOT_IN_PLACE = "not-in-place"
    NOT_APPLICABLE = "not-applicable"

    @property
    def label(self) -> str:
        return {"in-place": "in place", "partly": "partly in place", "not-in-place": "not in place",
                "not-applicable": "not applicable"}[self.value]


# A "not in place" answer is a finding of its own: decisions on it use this subject.
INTERVIEW_SUBJECT = "interview:"


def interview_subject(key_activity: str) -> str:
    return INTERVIEW_SUBJECT + key_activity


def open_findings(answers: Iterable[InterviewAnswer]) -> dict[str, InterviewAnswer]:
    """Key activities whose standing answer is "not in place": findings of the interview."""
    return {k: a for k, a in current_answers(answers).items() if a.answer is AnswerKind.NOT_IN_PLACE}


# Longest free-text fields a person types in a meeting; longer input is refused, never cut.
MAX_NAME = 200
MAX_NOTES = 4000
MAX_EVIDENCE = 500


@dataclass(frozen=True)
class AnswerInput:
    """One answer as given (web form or import file), before it is chained."""

    key_activity: str
    answer: AnswerKind
    answered_by: str  # "Dr. Lee, owner"
    notes: str | None = None
    evidence_ref: str | None = None  # a document's name ("Backup policy v3, 2026-03"), never its content

    def same_as(self, other: InterviewAnswer | None) -> bool:
        """Nothing new to record: the standing answer already says exactly this."""
        return other is not None and (other.answer, other.answered_by, other.notes, other.evidence_ref) == (
            self.answer, self.answered_by, self.notes, self.evidence_ref)


@dataclass(frozen=True)
class InterviewAnswer:
    """One recorded answer (``seq`` orders a client's answers)."""

    client: str
    seq: int
    key_activity: str
    answer: AnswerKind
    answered_by: str
    notes: str | None
    evidence_ref: str | None
    source: str  # "web" or "import: answers.yaml"
    answered_at: str  # ISO-8601 UTC, when it was recorded
    digest: str
    prev_digest: str | None

    def as_dict(self) -> dict[str, object]:
        return {"client": self.client, "seq": self.seq, "key_activity": self.key_activity,
                "answer": self.answer.value, "answered_by": self.answered_by, "notes": self.notes,
                "evidence_ref": self.evidence_ref, "source": self.source, "answered_at": self.answered_at,
                "digest": self.digest, "prev_digest": self.prev_digest}


def answer_digest(*, client: str, seq: int, key_activity: str, answer: str, answered_by: str, notes: str | None,
                  evidence_ref: str | None, source: str, answered_at: str, prev_digest: str | None) -> str:
    """SHA-256 over the canonical JSON of every field of an answer and the previous answer's digest."""
    payload = {"kind": "gapscan-interview-answer-v1", "client": client, "seq": seq, "key_activity": key_activity,
               "answer": answer, "answered_by": answered_by, "notes": notes, "evidence_ref": evidence_ref,
               "source": source, "answered_at": answered_at, "prev_digest": prev_digest}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def current_answers(answers: Iterable[InterviewAnswer]) -> dict[str, InterviewAnswer]:
    """The answer that stands per key activity: the latest one."""
    found: dict[str, InterviewAnswer] = {}
    for item in sorted(answers, key=lambda a: a.seq):
        found[item.key_activity] = item
    return found


def history_of(answers: Iterable[InterviewAnswer], key_activity: str) -> list[InterviewAnswer]:
    """Every answer ever given on one key activity, newest first."""
    return sorted((a for a in answers if a.key_activity == key_activity), key=lambda a: -a.seq)
