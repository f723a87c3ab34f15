"""The rows of the owner's sign-off page: the remediation projects of a run, from the report's own
``reports.projects`` (issue 17), so the web sign-off rows are the report's decision-sheet rows.

A key activity the practice answered "not in place" in the interview is a finding of its own
(decision subject ``interview:<key activity id>``), grouped with the others of its standard.
``interview_notes`` turns the store's standing answers into the plain values the report reads;
the CLI uses it too, so the report and this page see the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from reports.client_file import ClientFile
from reports.interview_view import InterviewNote
from reports.projects import Citation, Project, remediation_projects
from scanner.config.framework import Framework
from scanner.config.interview_guide import InterviewGuide
from scanner.history.interviews import InterviewAnswer
from scanner.models import ScanRun

__all__ = ["Citation", "Project", "interview_notes", "projects"]


def interview_notes(standing: Mapping[str, InterviewAnswer], guide: InterviewGuide) -> tuple[InterviewNote, ...]:
    """Standing answers (key activity id -> answer) as ``InterviewNote`` values, in the guide's order."""
    notes = []
    for act_id, act in guide.activities().items():
        given = standing.get(act_id)
        std = guide.standard_of(act_id)
        if given is None or std is None:
            continue
        notes.append(InterviewNote(key_activity=act_id, activity=act.name, standard=f"{std.citation} {std.title}",
                                   citations=act.citations, answer=given.answer.value,
                                   answered_by=given.answered_by, answered_on=given.answered_at[:10],
                                   notes=given.notes, evidence_ref=given.evidence_ref,
                                   question=act.questions[0] if act.questions else ""))
    return tuple(notes)


def projects(run: ScanRun, framework: Framework, interview: tuple[InterviewNote, ...] | None = None,
             client: ClientFile | None = None) -> list[Project]:
    """The sheet's rows, highest risk first: exactly the decision sheet of the report."""
    return remediation_projects(run, framework, client=client, interview=interview)
