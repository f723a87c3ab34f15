"""Profiles: which checks run, how gently, with which timeouts.

Shipped profiles live in ``profiles/*.yaml``; a user may pass a file path instead of a name.
Every profile is validated on load: an unknown key, a wrong type or an unknown check id is an
``InputError`` naming the file, the line and key, and what was expected. That includes each
check's ``settings``, validated against the schema the check declares (``CheckMeta.settings_model``).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scanner.check import CheckSettings, TimeoutConfig
from scanner.config.settings import ConcurrencyConfig, DiscoveryConfig
from scanner.config.userfiles import describe_validation_error, key_line, node_at, read_yaml, validate_model
from scanner.errors import InputError


class CheckCatalog(Protocol):
    """What a profile is resolved against: the installed checks (``scanner.engine.registry.Registry``).
    A protocol, so that configuration does not import the engine above it."""

    def ids(self) -> list[str]: ...
    def settings_model(self, check_id: str) -> type[CheckSettings] | None: ...
    def select(self, patterns: Iterable[str]) -> set[str]: ...
    def __contains__(self, check_id: object) -> bool: ...


class CheckSelection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    include: tuple[str, ...] = ("all",)
    exclude: tuple[str, ...] = ()


class Profile(BaseModel):
    """A validated profile. ``intrusive: true`` must come with the reason in words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str
    checks: CheckSelection = CheckSelection()
    intrusive: bool = False
    intrusive_reason: str | None = None
    listen_seconds: float = Field(default=0.0, ge=0, le=3600)
    timeouts: TimeoutConfig = TimeoutConfig()
    concurrency: ConcurrencyConfig = ConcurrencyConfig()
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _intrusive_needs_words(self) -> Profile:
        if self.intrusive and not (self.intrusive_reason and self.intrusive_reason.strip()):
            raise ValueError("intrusive: true needs intrusive_reason: say in words why and who agreed")
        return self


class LoadedProfile(BaseModel):
    """A profile resolved against the registry: the exact set of check ids it enables."""

    model_config = ConfigDict(frozen=True)

    profile: Profile
    source: str
    check_ids: frozenset[str]
    warnings: tuple[str, ...] = ()
    # The profile's ``settings``, validated against each check's declared ``settings_model``:
    # what the runner hands each check (a check the profile says nothing about gets its defaults).
    check_settings: dict[str, CheckSettings] = Field(default_factory=dict)


def profiles_dir() -> Path:
    return Path(str(resources.files("profiles")))


def shipped_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(profiles_dir().glob("*.yaml"))}


def resolve_profile_path(name_or_path: str) -> Path:
    """A shipped profile name, or a path to a YAML file."""
    shipped = shipped_profiles()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputError("profile file not found", source=str(path))
        return path
    raise InputError(
        f"unknown profile {name_or_path!r}: expected one of {', '.join(sorted(shipped))} or a path to a .yaml file",
        source="--profile",
    )


def load_profile(name_or_path: str, registry: CheckCatalog) -> LoadedProfile:
    path = resolve_profile_path(name_or_path)
    data, root = read_yaml(path)
    profile = validate_model(data, root, Profile, str(path))
    return select_checks(profile, registry, str(path), root)


def select_checks(profile: Profile, registry: CheckCatalog, source: str,
                  root: yaml.Node | None = None) -> LoadedProfile:
    """Resolve include/exclude against the registry. Exact unknown ids are errors; a glob
    that matches nothing is a warning (its checks may come from a plugin not installed).
    ``root`` (the file's YAML node tree) lets every error name its line."""
    warnings: list[str] = []

    def at(*loc: str | int) -> str:
        found = node_at(root, loc) if root is not None else None
        line = key_line(root, loc) if loc and loc[0] == "settings" else None
        line = line or (int(found.start_mark.line) + 1 if found is not None else None)
        key = ".".join(str(p) for p in loc[:-1]) + (f"[{loc[-1]}]" if isinstance(loc[-1], int) else f".{loc[-1]}")
        return f"line {line}, key '{key}'" if line else f"key '{key}'"

    def resolve(patterns: tuple[str, ...], key: str) -> set[str]:
        ids: set[str] = set()
        for index, pattern in enumerate(patterns):
            matched = registry.select([pattern])
            if not matched:
                if any(ch in pattern for ch in "*?[") or pattern == "all":
                    warnings.append(f"checks.{key}[{index}] {pattern!r} matches no installed check")
                    continue
                raise InputError(
                    f"{at('checks', key, index)}: unknown check id {pattern!r}; known ids: "
                    f"{', '.join(registry.ids()) or '(none installed)'}",
                    source=source,
                )
            ids |= matched
        return ids

    enabled = resolve(profile.checks.include, "include") - resolve(profile.checks.exclude, "exclude")
    check_settings: dict[str, CheckSettings] = {}
    for check_id, values in profile.settings.items():
        if check_id not in registry:
            raise InputError(f"{at('settings', check_id)}: unknown check id", source=source)
        model = registry.settings_model(check_id)
        if model is None:
            raise InputError(f"{at('settings', check_id)}: check {check_id} takes no settings", source=source)
        try:
            check_settings[check_id] = model.model_validate(values)
        except ValidationError as exc:
            raise describe_validation_error(exc, source, root, prefix=("settings", check_id)) from exc
    return LoadedProfile(profile=profile, source=source, check_ids=frozenset(enabled), warnings=tuple(warnings),
                         check_settings=check_settings)
