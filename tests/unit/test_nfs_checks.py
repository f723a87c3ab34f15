"""nfs.open_export judged on hand-built facts: which client lists count as world-accessible."""

from __future__ import annotations

import pytest

from checks.nfs.open_export import NfsOpenExport, open_reason
from checks.nfs.probe import NfsExportFacts, NfsExports
from checks.nfs.rpc import Export
from scanner.models import Finding, Skip, SkipReason, Target

TARGET = Target(host="198.18.0.10", port=111, service="rpcbind")


def judge(facts: NfsExportFacts) -> list[Finding | Skip]:
    return list(NfsOpenExport().evaluate(TARGET, {NfsExports: facts}))


@pytest.mark.parametrize("group, is_open", [
    ("*", True), ("(everyone)", True), ("*.clinic.lan", True), ("192.168.?.*", True),
    ("10.0.0.0/8", True), ("172.16.0.0/12", True), ("192.168.0.0/16", True), ("0.0.0.0/0", True),
    ("192.168.0.0/255.255.0.0", True), ("2001:db8::/32", True),
    ("192.168.1.0/24", False), ("198.18.0.40/32", False), ("198.18.0.40", False), ("ws.clinic.lan", False),
    ("@staff", False), ("2001:db8:1:2::/64", False), ("not/a-network", False),
])
def test_open_reason(group: str, is_open: bool) -> None:
    assert (open_reason(group) is not None) is is_open


def test_fail_on_the_lab_weak_export_to_star() -> None:
    (finding,) = judge(NfsExportFacts(111, 20048, (Export("/srv", ("*",)),), "AUTH_NONE"))
    assert isinstance(finding, Finding) and not finding.passed
    assert finding.discriminator == "/srv"
    assert "198.18.0.10:111: export /srv is open to '*' (any host)" in finding.detail
    assert "root squash" in finding.detail and "not judged" in finding.detail
    data = finding.evidence[0].data
    assert data["exports"] == [{"path": "/srv", "groups": ["*"]}] and "root squash" in data["not_observable"]


def test_pass_on_the_lab_hardened_export_to_two_hosts() -> None:
    facts = NfsExportFacts(111, 20048, (Export("/srv", ("198.18.0.40/32", "198.18.0.100/32")),), "AUTH_NONE")
    (finding,) = judge(facts)
    assert isinstance(finding, Finding) and finding.passed
    assert "restricted to 198.18.0.40/32, 198.18.0.100/32" in finding.detail


def test_empty_group_list_means_everyone() -> None:
    (finding,) = judge(NfsExportFacts(111, 635, (Export("/home", ()),)))
    assert isinstance(finding, Finding) and not finding.passed and "(everyone)" in finding.detail


def test_one_finding_per_export_and_mixed_lists_fail() -> None:
    exports = (Export("/srv/a", ("ws.lan",)), Export("/srv/b", ("ws.lan", "10.0.0.0/8")))
    findings = judge(NfsExportFacts(111, 20048, exports))
    assert [(f.discriminator, f.passed) for f in findings] == [("/srv/a", True), ("/srv/b", False)]  # type: ignore[union-attr]
    assert "a /8 network (16,777,216 addresses)" in findings[1].detail


def test_no_exports_is_one_pass() -> None:
    (finding,) = judge(NfsExportFacts(111, 20048, ()))
    assert isinstance(finding, Finding) and finding.passed and finding.discriminator == ""
    assert "lists no export" in finding.detail


def test_mount_not_registered_is_skipped_not_passed() -> None:
    (item,) = judge(NfsExportFacts(111, None))
    assert isinstance(item, Skip) and item.reason is SkipReason.NOT_APPLICABLE
    assert "NFSv4-only" in item.detail


def test_hostile_export_path_is_sanitized() -> None:
    (finding,) = judge(NfsExportFacts(111, 20048, (Export("/srv\x1b[2J\u202e", ("*",)),)))
    assert "\x1b" not in finding.detail and "\u202e" not in finding.detail
    assert "\x1b" not in str(finding.evidence[0].data)  # type: ignore[union-attr]
