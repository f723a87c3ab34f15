"""Finds checks through the ``gapscan.checks`` entry-point group and validates them.

A third-party distribution adds a check by declaring one entry point; nothing in this
repository changes. The registry refuses duplicate ids and invalid metadata with a message
that names the offending entry point and distribution.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from pydantic import ValidationError

from scanner.check import Check, CheckMeta, CheckSettings, Probe
from scanner.config.framework import Framework
from scanner.errors import GapscanError
from scanner.models import CheckText

ENTRY_POINT_GROUP = "gapscan.checks"


class RegistryError(GapscanError):
    """A check plugin is broken: duplicate id, bad metadata, not a Check."""


@dataclass(frozen=True)
class RegisteredCheck:
    """A check class, where it came from, and the HIPAA citations the framework attaches."""

    cls: type[Check]
    source: str  # "entry point NAME = VALUE (distribution X)"
    hipaa: tuple[str, ...]

    @property
    def meta(self) -> CheckMeta:
        return self.cls.meta

    @property
    def id(self) -> str:
        return self.cls.meta.id


class Registry:
    """The set of checks available to this run, keyed by id."""

    def __init__(self, checks: Iterable[RegisteredCheck]) -> None:
        self._checks: dict[str, RegisteredCheck] = {}
        for item in checks:
            if item.id in self._checks:
                other = self._checks[item.id]
                raise RegistryError(
                    f"duplicate check id {item.id!r}: defined by {other.source} and by {item.source}; "
                    "check ids are stable API and must be unique"
                )
            self._checks[item.id] = item

    def __iter__(self) -> Iterator[RegisteredCheck]:
        return iter(sorted(self._checks.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def get(self, check_id: str) -> RegisteredCheck:
        return self._checks[check_id]

    def ids(self) -> list[str]:
        return sorted(self._checks)

    def settings_model(self, check_id: str) -> type[CheckSettings] | None:
        """The schema of the check's profile settings (``CheckMeta.settings_model``), or None."""
        return self._checks[check_id].meta.settings_model

    def catalogue(self) -> dict[str, CheckText]:
        """What a person reads about each check (title, why it matters, remediation), as plain
        values for the renderers, which may not import the checks."""
        return {c.id: CheckText(check_id=c.id, title=c.meta.title, why=c.meta.why, remediation=c.meta.remediation)
                for c in self}

    def select(self, patterns: Iterable[str]) -> set[str]:
        """Ids matching any of the patterns (``all``, exact ids, or globs like ``smtp.*``)."""
        chosen: set[str] = set()
        for pattern in patterns:
            if pattern == "all":
                chosen.update(self._checks)
            else:
                chosen.update(fnmatch.filter(self._checks, pattern))
        return chosen


def validate_check_class(obj: Any, source: str) -> type[Check]:
    """Refuse anything that is not a well-formed Check subclass, saying what is wrong."""
    if not isinstance(obj, type) or not issubclass(obj, Check):
        raise RegistryError(f"{source} does not point at a gapscan Check subclass (got {obj!r})")
    meta = getattr(obj, "meta", None)
    if not isinstance(meta, CheckMeta):
        # Allow a plain dict for convenience, but validate it fully.
        try:
            meta = CheckMeta.model_validate(meta)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise RegistryError(f"{source}: invalid check metadata: {problems}") from exc
        obj.meta = meta
    applies = meta.applies_to
    if not (applies.services or applies.domains or applies.hosts or applies.network):
        raise RegistryError(f"{source}: check {meta.id!r} applies to nothing (services, domains, hosts or network)")
    _validate_settings_model(meta, source)
    for probe in obj.probes:
        if not isinstance(probe, type) or not issubclass(probe, Probe):
            raise RegistryError(f"{source}: check {meta.id!r} lists {probe!r} among its probes, not a Probe")
    return obj


def _validate_settings_model(meta: CheckMeta, source: str) -> None:
    """A declared settings schema must refuse unknown keys (a typo must never be ignored) and give
    every field a default (a profile that says nothing about the check gets them)."""
    model = meta.settings_model
    if model is None:
        return
    if model.model_config.get("extra") != "forbid":
        raise RegistryError(f"{source}: settings of {meta.id!r} ({model.__name__}) must forbid unknown keys "
                            "(subclass scanner.check.CheckSettings)")
    try:
        model()
    except ValidationError as exc:
        missing = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise RegistryError(f"{source}: settings of {meta.id!r} ({model.__name__}) "
                            f"need defaults for {missing}") from exc


def installed_check_ids() -> frozenset[str]:
    """The ids of every installed check, read from the entry-point names alone (``load_registry``
    refuses an entry point whose name is not its check's id), without importing any check: for
    tools such as the test lab that need the ids, not the checks."""
    return frozenset(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def load_registry(framework: Framework, *, extra: Iterable[tuple[Any, str]] = ()) -> Registry:
    """Load every entry point of the group (plus ``extra`` (class, source) pairs for tests)."""
    found: list[RegisteredCheck] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        source = f"entry point '{ep.name} = {ep.value}' (distribution {dist})"
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise RegistryError(f"{source} failed to import: {exc.__class__.__name__}: {exc}") from exc
        cls = validate_check_class(obj, source)
        if ep.name != cls.meta.id:
            raise RegistryError(f"{source}: entry point name must equal the check id {cls.meta.id!r}")
        found.append(RegisteredCheck(cls, source, framework.citations_for(cls.meta.id)))
    for obj, source in extra:
        cls = validate_check_class(obj, source)
        found.append(RegisteredCheck(cls, source, framework.citations_for(cls.meta.id)))
    return Registry(found)
