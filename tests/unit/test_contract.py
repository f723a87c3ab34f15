"""Contract between checks, the framework file, profiles and tests (docs/design.md)."""

from pathlib import Path

import pytest
import yaml

from scanner.config.framework import load_framework
from scanner.engine.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "hipaa-security-rule.yaml"


def test_every_check_is_mapped_or_explicitly_unmapped() -> None:
    framework = load_framework()
    registry = load_registry(framework)
    mapped = framework.mapped_check_ids()
    for check in registry:
        assert (check.id in mapped) != (check.id in framework.unmapped), check.id


def test_framework_links_only_installed_checks() -> None:
    framework = load_framework()
    unknown = framework.mapped_check_ids() - set(load_registry(framework).ids())
    assert not unknown, f"hipaa.yaml links checks that no installed plugin provides: {sorted(unknown)}"


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/ reference catalogue not beside the repo")
def test_citations_titles_designations_match_reference() -> None:
    reference = {r["citation"]: r for r in yaml.safe_load(REFERENCE.read_text())["regulation"]}
    for req in load_framework().requirements:
        assert req.citation in reference, req.citation
        designation = reference[req.citation]["designation"]
        assert designation.startswith(req.designation), (req.citation, designation)


def test_every_check_has_a_test() -> None:
    test_text = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    for check in load_registry(load_framework()):
        module = check.cls.__module__.rsplit(".", 1)[-1]
        assert check.id in test_text or module in test_text, f"no test mentions {check.id}"
