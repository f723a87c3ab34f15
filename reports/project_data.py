"""The remediation projects and each check's place in one, as data (``reports/data/projects.yaml``).

A check belongs to exactly one project; its ``exploit`` (what an attacker needs) and ``takeover``
feed the risk rating (``reports.risk``); ``setting`` joins checks that look at one setting, so their
findings on one place are one item of work. Loaded once and validated: a project a check names
must exist, a setting's checks must name it back.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Exploit(StrEnum):
    """What an attacker needs to use a gap (reports/data/projects.yaml explains each)."""

    ANYONE = "anyone"
    EAVESDROP = "eavesdrop"
    CREDENTIALS = "credentials"
    DEVICE_LOSS = "device-loss"
    HYGIENE = "hygiene"


EXPLOIT_WORDS = {
    Exploit.ANYONE: "anyone who can reach it, with no password",
    Exploit.EAVESDROP: "someone who can watch or alter traffic on the way",
    Exploit.CREDENTIALS: "a stolen or guessed password, or a foothold on the device first",
    Exploit.DEVICE_LOSS: "the device in hand (lost or stolen)",
    Exploit.HYGIENE: "another failure first: a missing layer of defence",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectDef(_Strict):
    title: str = Field(min_length=5, max_length=100)
    what_to_do: str = Field(min_length=20)
    effort: str = Field(min_length=3, max_length=100)


class SettingDef(_Strict):
    title: str = Field(min_length=5, max_length=100)
    checks: tuple[str, ...] = Field(min_length=2)


class CheckPlace(_Strict):
    project: str
    exploit: Exploit
    takeover: bool = False
    setting: str | None = None


class ProjectData(_Strict):
    projects: dict[str, ProjectDef]
    settings: dict[str, SettingDef] = {}
    checks: dict[str, CheckPlace]

    @model_validator(mode="after")
    def _consistent(self) -> ProjectData:
        for check_id, place in self.checks.items():
            if place.project not in self.projects:
                raise ValueError(f"check {check_id} names project {place.project!r}, which is not defined")
            if place.setting is not None and (
                    place.setting not in self.settings or check_id not in self.settings[place.setting].checks):
                raise ValueError(f"check {check_id} names setting {place.setting!r}, which does not list it")
        for name, setting in self.settings.items():
            for check_id in setting.checks:
                if self.checks.get(check_id) is None or self.checks[check_id].setting != name:
                    raise ValueError(f"setting {name} lists {check_id}, which does not name it back")
        return self

    def place_of(self, check_id: str) -> CheckPlace | None:
        return self.checks.get(check_id)

    def order(self) -> list[str]:
        """Project ids in the order the file lists them (the tie-break of the ranking)."""
        return list(self.projects)


# A check this file does not know (a third-party plugin) still lands somewhere visible.
OTHER = "other"
OTHER_PROJECT = ProjectDef(title="Other findings", what_to_do="Follow each finding's own remediation below.",
                           effort="depends on the finding")


@lru_cache(maxsize=1)
def load_project_data() -> ProjectData:
    text = resources.files("reports").joinpath("data", "projects.yaml").read_text(encoding="utf-8")
    return ProjectData.model_validate(yaml.safe_load(text))
