from pathlib import Path

import pytest

from scanner.config.framework import load_framework
from scanner.config.profiles import load_profile, shipped_profiles
from scanner.engine.registry import Registry, load_registry
from scanner.errors import InputError


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(load_framework())


def test_shipped_profiles_load(registry: Registry) -> None:
    names = set(shipped_profiles())
    assert {"onboarding", "quick", "external", "rescan"} <= names
    for name in names:
        loaded = load_profile(name, registry)
        assert loaded.profile.name == name
    assert load_profile("onboarding", registry).check_ids == frozenset(registry.ids())


def test_no_shipped_profile_enables_intrusive_checks_silently(registry: Registry) -> None:
    for name in shipped_profiles():
        profile = load_profile(name, registry).profile
        assert not profile.intrusive or (profile.intrusive_reason or "").strip()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    return path


def test_typo_key_names_file_line_and_key(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: custom\ndescription: d\ntimeouts:\n  conect: 3\n")
    with pytest.raises(InputError) as info:
        load_profile(str(path), registry)
    text = str(info.value)
    assert "custom.yaml" in text and "line 4" in text and "timeouts.conect" in text and "unknown key" in text


def test_wrong_type_names_expected(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: custom\ndescription: d\nconcurrency:\n  per_host: lots\n")
    with pytest.raises(InputError, match=r"line 4, key 'concurrency.per_host'.*integer"):
        load_profile(str(path), registry)


def test_unknown_check_id(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: custom\ndescription: d\nchecks:\n  include: [smtp.starttls_misssing]\n")
    with pytest.raises(InputError, match=r"checks.include\[0\].*unknown check id 'smtp.starttls_misssing'"):
        load_profile(str(path), registry)


def test_glob_matching_nothing_is_a_warning(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: custom\ndescription: d\nchecks:\n  include: ['smtp.*', 'zzz.*']\n")
    loaded = load_profile(str(path), registry)
    assert "smtp.starttls_missing" in loaded.check_ids
    assert any("zzz.*" in w for w in loaded.warnings)


def test_intrusive_needs_words(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: custom\ndescription: d\nintrusive: true\n")
    with pytest.raises(InputError, match="intrusive_reason"):
        load_profile(str(path), registry)


def test_bad_yaml_and_missing_file(tmp_path: Path, registry: Registry) -> None:
    path = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_profile(str(path), registry)
    with pytest.raises(InputError, match="not found"):
        load_profile(str(tmp_path / "nope.yaml"), registry)
    with pytest.raises(InputError, match="unknown profile"):
        load_profile("onbaording", registry)
