"""What the report shows of the interview (issue 18): per safeguard, the answers given; and a
"not in place" answer as a finding of its own, with the NIST SP 800-66r2 key activity as its evidence.

Plain values (``InterviewNote``: the CLI loads them, a report never opens the store) and pure
functions over them. The matrix shows, per specification: gap found by scan / no gap observed
by scan / answered in interview (date, who, answer) / not assessed; a scan result wins where
there is one, and the interview answers are shown beside it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InterviewNote:
    """The standing interview answer on one NIST SP 800-66r2 key activity (issue 18), as a report
    shows it; the CLI builds these from the history store (``scanner.cli.runs._report_interview``)."""

    key_activity: str  # "164.308(a)(7)-6"
    activity: str  # the key activity's name
    standard: str  # "164.308(a)(7)(i) Contingency Plan"
    citations: tuple[str, ...]  # the hipaa.yaml paragraphs it answers: its standard, then its specification(s)
    answer: str  # in-place | partly | not-in-place | not-applicable
    answered_by: str
    answered_on: str  # YYYY-MM-DD
    notes: str | None = None
    evidence_ref: str | None = None  # a document's name
    question: str = ""  # NIST's first sample question for the activity

    @property
    def answer_label(self) -> str:
        return self.answer.replace("-", " ").replace("partly", "partly in place")

    def describe(self) -> str:
        """"not in place (2026-12-02, Maria Lopez, office manager)"."""
        return f"{self.answer_label} ({self.answered_on}, {self.answered_by})"


Interview = tuple[InterviewNote, ...]


ANSWERED = "answered in interview"
NOT_IN_PLACE = "not-in-place"
# The answer a safeguard row shows when several key activities answer it: the one that says least.
_ORDER = {"not-in-place": 0, "partly": 1, "in-place": 2, "not-applicable": 3}


def answers_for(citation: str, interview: Interview | None) -> list[InterviewNote]:
    """The answers that are evidence for one hipaa.yaml paragraph, the least in place first."""
    found = [n for n in interview or () if citation in n.citations]
    return sorted(found, key=lambda n: (_ORDER.get(n.answer, 9), n.key_activity))


def matrix_answer(citation: str, interview: Interview | None) -> str | None:
    """"answered in interview: not in place (2026-12-02, Maria Lopez, office manager)", or None."""
    found = answers_for(citation, interview)
    if not found:
        return None
    more = f"; {len(found) - 1} more key activit{'y' if len(found) == 2 else 'ies'} answered" if len(found) > 1 else ""
    return f"{ANSWERED}: {found[0].describe()}{more}"


@dataclass(frozen=True)
class InterviewFinding:
    """A key activity the practice said is not in place: a gap against its citations."""

    note: InterviewNote

    @property
    def title(self) -> str:
        return f"Not in place (interview): {self.note.activity}"

    @property
    def subject(self) -> str:
        """The decision subject of this finding in the decision chain."""
        return f"interview:{self.note.key_activity}"

    @property
    def evidence(self) -> dict[str, str]:
        """What an auditor asks to see: the NIST key activity, who said what, when, and the document."""
        found = {"source": "interview (NIST SP 800-66r2 key activity)", "key_activity": self.note.key_activity,
                 "activity": self.note.activity, "standard": self.note.standard, "answer": self.note.answer_label,
                 "answered_by": self.note.answered_by, "answered_on": self.note.answered_on}
        if self.note.question:
            found["question"] = self.note.question
        if self.note.notes:
            found["notes"] = self.note.notes
        if self.note.evidence_ref:
            found["evidence_ref"] = self.note.evidence_ref
        return found


def interview_findings(interview: Interview | None) -> list[InterviewFinding]:
    return [InterviewFinding(n) for n in interview or () if n.answer == NOT_IN_PLACE]
