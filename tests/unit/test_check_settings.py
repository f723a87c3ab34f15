"""Per-check settings are declared on each check's metadata and validated with the profile (issue 15:
``max_minutez: 5`` and ``max_minutes: "five"`` were silently ignored and the default applied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config.framework import load_framework
from scanner.config.profiles import load_profile
from scanner.engine.registry import Registry, load_registry
from scanner.errors import InputError


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(load_framework())


def _profile(tmp_path: Path, settings: str) -> Path:
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\ndescription: per-check settings\nsettings:\n" + settings)
    return path


def test_a_misspelt_setting_is_refused_with_file_line_and_key(tmp_path: Path, registry: Registry) -> None:
    path = _profile(tmp_path, "  endpoint.screen_lock_missing:\n    max_minutez: 5\n")
    with pytest.raises(InputError) as info:
        load_profile(str(path), registry)
    text = str(info.value)
    assert "typo.yaml" in text and "line 5" in text, text
    assert "settings.endpoint.screen_lock_missing.max_minutez" in text and "unknown key" in text, text


def test_a_setting_of_the_wrong_type_is_refused_with_file_line_and_key(tmp_path: Path, registry: Registry) -> None:
    path = _profile(tmp_path, "  endpoint.screen_lock_missing:\n    max_minutes: five\n")
    with pytest.raises(InputError) as info:
        load_profile(str(path), registry)
    text = str(info.value)
    assert "typo.yaml" in text and "line 5" in text and "settings.endpoint.screen_lock_missing.max_minutes" in text
    assert "number" in text and "'five'" in text, text


def test_a_nonsensical_limit_is_refused(tmp_path: Path, registry: Registry) -> None:
    path = _profile(tmp_path, "  endpoint.accounts_weak: {min_password_length: 0}\n")
    with pytest.raises(InputError, match=r"line 4, key 'settings.endpoint.accounts_weak.min_password_length'"):
        load_profile(str(path), registry)


def test_settings_for_a_check_that_declares_none_are_refused(tmp_path: Path, registry: Registry) -> None:
    path = _profile(tmp_path, "  smtp.starttls_missing: {strict: true}\n")
    with pytest.raises(InputError, match=r"line 4, key 'settings.smtp.starttls_missing'.*takes no settings"):
        load_profile(str(path), registry)


def test_a_valid_setting_reaches_the_check_typed(tmp_path: Path, registry: Registry) -> None:
    from checks.endpoint.screen_lock import ScreenLockMissing, ScreenLockSettings

    path = _profile(tmp_path, "  endpoint.screen_lock_missing: {max_minutes: 5}\n")
    loaded = load_profile(str(path), registry)
    chosen = loaded.check_settings["endpoint.screen_lock_missing"]
    assert isinstance(chosen, ScreenLockSettings) and chosen.max_minutes == 5
    assert ScreenLockMissing(chosen).settings_as(ScreenLockSettings).max_minutes == 5
    assert ScreenLockMissing().settings_as(ScreenLockSettings).max_minutes == 15  # the declared default


def test_every_declared_settings_model_has_defaults_and_forbids_unknown_keys(registry: Registry) -> None:
    from scanner.check import CheckSettings

    declared = [c for c in registry if c.meta.settings_model is not None]
    assert len(declared) >= 4
    for item in declared:
        model = item.meta.settings_model
        assert model is not None and issubclass(model, CheckSettings)
        model()  # a profile that says nothing gets the defaults
        assert model.model_config.get("extra") == "forbid"


def test_the_scan_command_exits_2_naming_the_file_line_and_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app

    path = _profile(tmp_path, "  endpoint.backup_stale: {max_age_hourz: 24}\n")
    result = CliRunner().invoke(app, ["scan", "198.18.0.10", "--profile", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "typo.yaml" in text and "line 4" in text and "max_age_hourz" in text, result.output
    assert not (tmp_path / "o" / "scan.json").exists()


def test_the_runner_hands_each_check_its_validated_settings(tmp_path: Path, registry: Registry) -> None:
    from datetime import UTC, datetime

    from checks.endpoint.inventory import EndpointInventory, ScreenLock
    from checks.endpoint.probe import EndpointCollector, EndpointFacts
    from scanner.engine.planner import PlannedCheck
    from scanner.engine.runner import evaluate
    from scanner.models import Status, Target

    loaded = load_profile(str(_profile(tmp_path, "  endpoint.screen_lock_missing: {max_minutes: 5}\n")), registry)
    lock = ScreenLock((), lock_enabled=True, idle_seconds=600, source="test")
    inv = EndpointInventory(collector="ssh", os=None, disk=None, screen_lock=lock, firewall=None, antimalware=None,
                            sync_clients=None, account="tech", collected_at=datetime(2026, 12, 2, tzinfo=UTC))
    target = Target(host="192.0.2.41")
    planned = PlannedCheck(registry.get("endpoint.screen_lock_missing"), target)
    facts = {EndpointCollector: EndpointFacts(host="192.0.2.41", inventory=inv, credential="credential 'x'")}
    (strict,) = evaluate(planned, dict(facts), datetime.now(UTC), loaded.check_settings["endpoint.screen_lock_missing"])
    (default,) = evaluate(planned, dict(facts), datetime.now(UTC))
    assert strict.status is Status.FAIL and default.status is Status.PASS


def test_the_usage_page_lists_every_declared_setting(registry: Registry) -> None:
    usage = (Path(__file__).resolve().parents[2] / "docs" / "usage.md").read_text()
    for item in registry:
        model = item.meta.settings_model
        if model is None:
            continue
        row = next((line for line in usage.splitlines() if line.startswith(f"| `{item.id}` |")), "")
        assert row, f"docs/usage.md has no row for {item.id}'s settings"
        for name in model.model_fields:
            assert f"`{name}`" in row, f"docs/usage.md does not document {item.id}: {name}"


def test_the_registry_refuses_a_schema_that_would_ignore_a_typo_or_has_no_default() -> None:
    from pydantic import BaseModel, ConfigDict

    from scanner.check import Applies, Check, CheckMeta, CheckSettings
    from scanner.engine.registry import RegistryError, validate_check_class

    class Lax(BaseModel):
        model_config = ConfigDict(frozen=True)
        limit: int = 3

    class NoDefault(CheckSettings):
        limit: int

    def check_with(model: type[BaseModel]) -> type[Check]:
        class Demo(Check):
            meta = CheckMeta.model_construct(
                id="demo.settings", title="Demo settings", severity="low", applies_to=Applies(hosts=True),
                why="A demonstration check used only by this test, with enough words to be valid.",
                remediation="Nothing to do here.", settings_model=model)

            def evaluate(self, target, facts):  # type: ignore[no-untyped-def]
                return ()
        return Demo

    with pytest.raises(RegistryError, match="must forbid unknown keys"):
        validate_check_class(check_with(Lax), "test")
    with pytest.raises(RegistryError, match="need defaults for limit"):
        validate_check_class(check_with(NoDefault), "test")
