"""The interview answers file (``gapscan interview import FILE --client NAME``).

Answers collected elsewhere (a paper worksheet typed up, another tool's export) in YAML::

    client: Demo Dental              # optional: when given it must be the --client
    answered_by: "Maria Lopez, office manager"   # for every answer that does not name its own
    answers:
      - key_activity: "164.308(a)(7)-6"           # a NIST SP 800-66r2 key activity id
        answer: not-in-place                      # in-place | partly | not-in-place | not-applicable
        notes: "Backups go to a USB disk that stays in the server room."
        evidence: "Backup log, March 2026"        # a document's name, never its content

Every mistake names the file, the line and the key (``userfiles.load_model``); nothing is
recorded unless the whole file is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scanner.config.interview_guide import load_guide
from scanner.config.userfiles import load_model

AnswerValue = Literal["in-place", "partly", "not-in-place", "not-applicable"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileAnswer(_Strict):
    key_activity: str
    answer: AnswerValue
    answered_by: str | None = Field(default=None, min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    evidence: str | None = Field(default=None, max_length=500)

    @field_validator("key_activity")
    @classmethod
    def _known(cls, value: str) -> str:
        if load_guide().activity(value) is None:
            raise ValueError(f"{value!r} is not a key activity of NIST SP 800-66r2 (ids look like "
                             "\"164.308(a)(7)-6\"; see the interview pages)")
        return value


class InterviewFile(_Strict):
    client: str | None = None
    answered_by: str | None = Field(default=None, min_length=1, max_length=200)
    answers: tuple[FileAnswer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _who(self) -> InterviewFile:
        for answer in self.answers:
            if answer.answered_by is None and self.answered_by is None:
                raise ValueError(f"answer for {answer.key_activity} does not say who answered: give answered_by "
                                 "on the answer or at the top of the file")
        ids = [a.key_activity for a in self.answers]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"key activity {twice[0]} is answered twice in one file")
        return self


def load_interview_file(path: Path) -> InterviewFile:
    return load_model(path, InterviewFile)
