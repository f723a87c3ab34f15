"""The contract between every check and the places a check must be registered (docs/adding-a-check.md).

One test walks the registry and names, per check, each piece it lacks: a framework link (or a
reasoned ``unmapped:`` entry in profiles/frameworks/hipaa.yaml), its "why it matters" text, its
remediation, its lab twin (a lab host or domain planting the gap and one hardened against it, or
the test that proves the side the lab cannot plant: tests/lab/topology.py PROVED_ELSEWHERE) and
its row in the check-family docs. A second test proves it can fail: a throwaway check, registered
through ``load_registry(extra=...)``, missing each piece in turn.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.config.framework import CheckLink, Framework, load_framework
from scanner.engine.registry import RegisteredCheck, installed_check_ids, load_registry
from scanner.models import Finding, Severity, Target
from tests.lab import topology

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "hipaa-security-rule.yaml"
# A table row whose first cell is a check id in backticks: "| `smb.v1_enabled` | high | ..."
DOC_ROW = re.compile(r"^\|\s*`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)`\s*\|", re.MULTILINE)


def documented_check_ids(repo: Path = REPO) -> set[str]:
    """Check ids with a table row in the check-family pages (docs/checks/<family>.md)."""
    pages = sorted((repo / "docs" / "checks").glob("*.md"))
    return {m.group(1) for page in pages for m in DOC_ROW.finditer(page.read_text(encoding="utf-8"))}


def names_a_test(reference: str, repo: Path = REPO) -> bool:
    """Whether "tests/path.py::test_name" names a test function defined in that file."""
    path, _, name = reference.partition("::")
    file = repo / path
    if not name or not file.is_file():
        return False
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


@dataclass
class Sources:
    """Where each piece of a check is registered; the real ones, or a test's variant of them."""

    framework: Framework
    planted_fail: set[str]
    planted_pass: set[str]
    proved_elsewhere: Mapping[str, topology.ProvedElsewhere]
    documented: set[str]
    repo: Path = REPO
    notes: list[str] = field(default_factory=list)

    @classmethod
    def real(cls) -> Sources:
        items: list[topology.LabHost | topology.LabDomain] = [*topology.HOSTS, *topology.DOMAINS]
        return cls(framework=load_framework(),
                   planted_fail={c for i in items for c in i.gaps},
                   planted_pass={c for i in items for c in i.hardened},
                   proved_elsewhere=topology.PROVED_ELSEWHERE,
                   documented=documented_check_ids())


def missing_pieces(check: RegisteredCheck, src: Sources) -> list[str]:
    """What ``check`` lacks, in words; empty when every piece is there."""
    cid, meta, missing = check.id, check.meta, []
    mapped = cid in src.framework.mapped_check_ids()
    unmapped = (src.framework.unmapped.get(cid) or "").strip()
    if not mapped and not unmapped:
        missing.append("no framework link in profiles/frameworks/hipaa.yaml and no reasoned 'unmapped:' entry")
    if mapped and cid in src.framework.unmapped:
        missing.append("both linked and listed as unmapped in profiles/frameworks/hipaa.yaml")
    if len((getattr(meta, "why", "") or "").strip()) < 60:
        missing.append("no 'why it matters' text (CheckMeta.why)")
    if len((getattr(meta, "remediation", "") or "").strip()) < 10:
        missing.append("no remediation (CheckMeta.remediation)")
    elsewhere = src.proved_elsewhere.get(cid)
    for side, planted in (("fail", src.planted_fail), ("pass", src.planted_pass)):
        if cid in planted:
            continue
        if elsewhere is not None and elsewhere.side in (side, "both") and elsewhere.why.strip():
            if not names_a_test(elsewhere.test, src.repo):
                missing.append(f"PROVED_ELSEWHERE names {elsewhere.test}, which is not a test")
            continue
        missing.append(f"no lab twin for the {side.upper()} side (a host or domain in tests/lab/topology.py "
                       "with it in gaps/hardened) and no recorded-fixture test in PROVED_ELSEWHERE")
    if cid not in src.documented:
        missing.append("no row in the check-family docs (docs/checks/<family>.md)")
    return missing


def test_every_check_has_all_its_pieces() -> None:
    src = Sources.real()
    registry = load_registry(src.framework)
    gaps = {c.id: m for c in registry if (m := missing_pieces(c, src))}
    assert not gaps, "\n".join(f"{cid}: {'; '.join(m)}" for cid, m in sorted(gaps.items()))


def test_the_lab_and_the_exceptions_name_installed_checks_only() -> None:
    installed = installed_check_ids()
    assert installed == topology.CHECK_IDS, "the lab's CHECK_IDS is the registry's"
    assert set(topology.PROVED_ELSEWHERE) <= installed
    assert set(load_registry(load_framework()).ids()) == installed
    real = Sources.real()
    stale = [cid for cid, e in topology.PROVED_ELSEWHERE.items()
             if (e.side in ("fail", "both") and cid in real.planted_fail)
             or (e.side in ("pass", "both") and cid in real.planted_pass)]
    assert not stale, f"PROVED_ELSEWHERE lists sides the lab now plants: {stale}"


# ---------------------------------------------------------------- the contract can fail

THROWAWAY = "contract.throwaway_gap"


class _Facts:
    pass


def _meta(**changes: Any) -> CheckMeta:
    fields: dict[str, Any] = {
        "id": THROWAWAY, "title": "A throwaway gap for the contract test", "severity": Severity.LOW,
        "applies_to": Applies(hosts=True), "remediation": "Remove the throwaway gap from the test.",
        "why": "A throwaway gap that exists only in this test; it stands for any weakness a check reports.",
    }
    fields.update(changes)
    # model_construct skips validation: a plugin can hand the registry a built CheckMeta, so the
    # contract must catch what validation would have.
    return CheckMeta.model_construct(**fields)


def _throwaway(meta: CheckMeta) -> type[SingleProbeCheck[_Facts]]:
    class Throwaway(SingleProbeCheck[_Facts]):
        def judge(self, target: Target, facts: _Facts) -> Iterator[Finding]:
            yield self.finding(target, passed=True, detail="nothing")

    Throwaway.meta = meta
    return Throwaway


def _complete_sources() -> Sources:
    """The real sources plus every piece the throwaway check needs."""
    src = Sources.real()
    real = src.framework
    first = real.requirements[0]
    link = CheckLink(check=THROWAWAY, rationale="A throwaway link for the contract test.")
    linked = first.model_copy(update={"checks": (*first.checks, link)})
    src.framework = real.model_copy(update={"requirements": (linked, *real.requirements[1:])})
    src.planted_fail.add(THROWAWAY)
    src.planted_pass.add(THROWAWAY)
    src.documented.add(THROWAWAY)
    return src


def _without_link(src: Sources) -> None:
    src.framework = Sources.real().framework


def _unmapped_with_a_reason(src: Sources) -> None:
    _without_link(src)
    src.framework = src.framework.model_copy(update={"unmapped": {THROWAWAY: "Informational only: no safeguard."}})


def _unmapped_without_a_reason(src: Sources) -> None:
    _without_link(src)
    src.framework = src.framework.model_copy(update={"unmapped": {THROWAWAY: "  "}})


def _no_fail_twin(src: Sources) -> None:
    src.planted_fail.discard(THROWAWAY)


def _no_pass_twin(src: Sources) -> None:
    src.planted_pass.discard(THROWAWAY)


def _pass_proved_by_a_real_test(src: Sources) -> None:
    _no_pass_twin(src)
    src.proved_elsewhere = {**src.proved_elsewhere, THROWAWAY: topology.ProvedElsewhere(
        "pass", "tests/unit/test_contract.py::test_every_check_has_all_its_pieces", "a recorded fixture")}


def _pass_proved_by_no_test(src: Sources) -> None:
    _no_pass_twin(src)
    src.proved_elsewhere = {**src.proved_elsewhere, THROWAWAY: topology.ProvedElsewhere(
        "pass", "tests/unit/test_contract.py::test_that_does_not_exist", "a recorded fixture")}


def _no_docs_row(src: Sources) -> None:
    src.documented.discard(THROWAWAY)


@pytest.mark.parametrize("meta_changes, break_sources, expected", [
    ({}, None, None),
    ({}, _without_link, "no framework link"),
    ({}, _unmapped_with_a_reason, None),
    ({}, _unmapped_without_a_reason, "no framework link"),
    ({"why": ""}, None, "no 'why it matters' text"),
    ({"why": "Bad."}, None, "no 'why it matters' text"),
    ({"remediation": ""}, None, "no remediation"),
    ({}, _no_fail_twin, "no lab twin for the FAIL side"),
    ({}, _no_pass_twin, "no lab twin for the PASS side"),
    ({}, _pass_proved_by_a_real_test, None),
    ({}, _pass_proved_by_no_test, "which is not a test"),
    ({}, _no_docs_row, "no row in the check-family docs"),
], ids=["complete", "no-link", "unmapped-reasoned", "unmapped-unreasoned", "no-why", "short-why", "no-remediation",
        "no-fail-twin", "no-pass-twin", "pass-proved-elsewhere", "proved-by-no-test", "no-docs-row"])
def test_a_check_missing_a_piece_is_named(meta_changes: dict[str, Any], break_sources: Any,
                                         expected: str | None) -> None:
    src = _complete_sources()
    if break_sources is not None:
        break_sources(src)
    registry = load_registry(src.framework, extra=[(_throwaway(_meta(**meta_changes)), "contract test")])
    missing = missing_pieces(registry.get(THROWAWAY), src)
    if expected is None:
        assert missing == []
    else:
        assert len(missing) == 1 and expected in missing[0], missing


def test_docs_rows_are_read_from_the_family_pages(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("| `smb.v1_enabled` | high |\n")
    assert documented_check_ids(tmp_path) == set()  # a README row is not a family page
    (tmp_path / "docs" / "checks").mkdir(parents=True)
    (tmp_path / "docs" / "checks" / "mail.md").write_text(
        "| Check | Severity |\n|---|---|\n| `smtp.open_relay` | high |\nSee `dns.spf_missing` too.\n")
    assert documented_check_ids(tmp_path) == {"smtp.open_relay"}  # the pages, and only table rows


# ---------------------------------------------------------------- the framework file itself


def test_every_check_has_its_own_why_it_matters() -> None:
    """Issue 17: a report prints each finding's "why it matters"; two checks sharing one text would
    mean one of them says something generic. Every installed check's CheckMeta.why is its own."""
    by_text: dict[str, list[str]] = {}
    for check in load_registry(load_framework()):
        by_text.setdefault(" ".join(check.meta.why.split()).lower(), []).append(check.id)
    shared = [ids for ids in by_text.values() if len(ids) > 1]
    assert not shared, f"checks sharing one 'why it matters' text: {shared}"


def test_framework_links_only_installed_checks() -> None:
    framework = load_framework()
    unknown = (framework.mapped_check_ids() | set(framework.unmapped)) - set(load_registry(framework).ids())
    assert not unknown, f"hipaa.yaml names checks that no installed plugin provides: {sorted(unknown)}"


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/ reference catalogue not beside the repo")
def test_citations_titles_designations_match_reference() -> None:
    reference = {r["citation"]: r for r in yaml.safe_load(REFERENCE.read_text())["regulation"]}
    for req in load_framework().requirements:
        assert req.citation in reference, req.citation
        designation = reference[req.citation]["designation"]
        assert designation.startswith(req.designation), (req.citation, designation)
