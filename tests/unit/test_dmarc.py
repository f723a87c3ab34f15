"""DMARC (RFC 7489): tag parsing on literal records, §6.6.3's rules, and the organizational domain."""

from __future__ import annotations

import pytest

from checks.dns.dmarc import DmarcSyntaxError, dmarc_records, is_dmarc, parse
from checks.dns.orgdomain import organizational_domain
from checks.dns.taglist import TagListError, parse_tag_list


@pytest.mark.parametrize("text, expected", [
    ("v=DMARC1; p=none", True), ("v=DMARC1", True), ("V = DMARC1 ; p=reject", True), ("v=DMARC1;p=reject", True),
    ("v=dmarc1; p=none", False),  # the value is case-sensitive (§6.3: MUST match precisely)
    ("p=none; v=DMARC1", False),  # v must come first
    ("v=DMARC2; p=none", False), ("v=spf1 -all", False), ("", False),
])
def test_is_dmarc(text: str, expected: bool) -> None:
    assert is_dmarc(text) is expected


def test_only_dmarc_records_are_selected() -> None:
    assert dmarc_records(["v=spf1 -all", "v=DMARC1; p=none", "hello"]) == ["v=DMARC1; p=none"]


def test_full_record() -> None:
    record = parse("v=DMARC1; p=Reject; sp=quarantine; pct=100; rua=mailto:a@x.example,mailto:b@y.example!10m; "
                   "ruf=mailto:f@x.example; adkim=s; aspf=r; fo=1; ri=3600; future=ignored;")
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == ("reject", "quarantine", 100, "s", "r")
    assert record.rua == ("mailto:a@x.example", "mailto:b@y.example") and record.ruf == ("mailto:f@x.example",)
    assert record.problems == () and record.usable


def test_defaults() -> None:
    record = parse("v=DMARC1; p=none")
    assert (record.sp, record.pct, record.rua, record.adkim, record.aspf) == (None, 100, (), "r", "r")
    assert record.policy_for(subdomain=False) == "none" and record.policy_for(subdomain=True) == "none"


def test_sp_applies_to_subdomains_only() -> None:
    record = parse("v=DMARC1; p=reject; sp=none; rua=mailto:d@x.example")
    assert record.policy_for(subdomain=False) == "reject" and record.policy_for(subdomain=True) == "none"


@pytest.mark.parametrize("pct, value, problem", [("0", 0, False), ("50", 50, False), ("100", 100, False),
                                                 ("101", 100, True), ("-1", 100, True), ("ten", 100, True),
                                                 ("", 100, True)])
def test_pct(pct: str, value: int, problem: bool) -> None:
    record = parse(f"v=DMARC1; p=reject; pct={pct}")
    assert record.pct == value and bool(record.problems) is problem


def test_invalid_p_with_rua_reads_as_none() -> None:
    # §6.6.3: no valid p, but a valid rua: act as if p=none was given.
    record = parse("v=DMARC1; p=rejct; rua=mailto:d@x.example")
    assert record.p is None and record.effective_p == "none" and record.usable
    assert any("p='rejct'" in p for p in record.problems)


def test_missing_or_invalid_p_without_rua_is_unusable() -> None:
    for text in ("v=DMARC1; rua=nonsense", "v=DMARC1; p=maybe", "v=DMARC1"):
        record = parse(text)
        assert not record.usable and record.policy_for(subdomain=False) is None, text


def test_invalid_reporting_uris_are_problems() -> None:
    record = parse("v=DMARC1; p=none; rua=dmarc@x.example, mailto:nobody, mailto:ok@x.example!5x")
    assert record.rua == ()
    assert len(record.problems) == 3


@pytest.mark.parametrize("text", ["v=DMARC1; p=none; p=reject", "v=DMARC1; p none", "v=DMARC1; =none",
                                  "v=DMARC1; p=none; 1x=y"])
def test_malformed_tag_lists_are_rejected(text: str) -> None:
    with pytest.raises(DmarcSyntaxError):
        parse(text)


def test_not_a_dmarc_record() -> None:
    with pytest.raises(DmarcSyntaxError):
        parse("v=spf1 -all")


def test_tag_list_whitespace_and_empty_parts() -> None:
    assert parse_tag_list(" v = DMARC1 ;  p = none ; ") == [("v", "DMARC1"), ("p", "none")]
    assert parse("v=DMARC1; p=reject;; rua=mailto:a@b.example").rua == ("mailto:a@b.example",)
    with pytest.raises(TagListError, match="twice"):
        parse_tag_list("a=1; a=2")


@pytest.mark.parametrize("domain, org", [
    ("example.com", "example.com"), ("branch.example.com", "example.com"), ("a.b.example.com", "example.com"),
    ("clinic.co.uk", "clinic.co.uk"), ("mail.clinic.co.uk", "clinic.co.uk"), ("dental.com.au", "dental.com.au"),
    ("Branch.Good-Clinic.Test.", "good-clinic.test"),
])
def test_organizational_domain(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org
