"""The domain checks judged on facts built from literal DNS data (no network): the probe runs
against a dict-backed resolver, then each check reads the facts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from typer.testing import CliRunner

from checks.dns import probe as probe_mod
from checks.dns.dkim_missing import DnsDkimMissing
from checks.dns.dmarc_missing import DnsDmarcMissing
from checks.dns.dmarc_weak import DnsDmarcWeak
from checks.dns.dnssec import DnssecFacts
from checks.dns.dnssec_missing import DnsDnssecMissing
from checks.dns.mta_sts_missing import DnsMtaStsMissing
from checks.dns.probe import DomainDns, DomainDnsFacts
from checks.dns.spf_invalid import DnsSpfInvalid
from checks.dns.spf_missing import DnsSpfMissing
from checks.dns.spf_weak import DnsSpfWeak
from checks.dns.tls_rpt_missing import DnsTlsRptMissing
from scanner.check import Check, ProbeContext, TimeoutConfig
from scanner.cli import app
from scanner.errors import ProbeError
from scanner.models import Finding, Severity, Skip, Target
from tests.unit.test_dns_helpers import FakeDns

DOMAIN = "clinic.example"
UNSIGNED = DnssecFacts(DOMAIN, (), (), (), False, False, (), False, ())


class FakeClient:
    """Stands in for DnsClient: same ``query``/``nameservers``/``queries`` surface."""

    def __init__(self, dns: FakeDns) -> None:
        self.dns = dns
        self.nameservers = ("192.0.2.53",)
        self.queries = 0

    def query(self, name: str, rdtype: str) -> Any:
        self.queries += 1
        return self.dns(name, rdtype)


@pytest.fixture
def collect(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def run(zone: Mapping[tuple[str, str], Sequence[str]], domain: str = DOMAIN, *,
            dnssec: DnssecFacts = UNSIGNED, selectors: tuple[str, ...] = ()) -> DomainDnsFacts:
        dns = FakeDns(zone)
        monkeypatch.setattr(probe_mod, "DnsClient", lambda *a, **k: FakeClient(dns))
        monkeypatch.setattr(probe_mod.dnssec, "collect", lambda client, name: dnssec)
        ctx = ProbeContext(timeouts=TimeoutConfig(), nameservers=("192.0.2.53",),
                           settings={"dkim_selectors": selectors})
        return DomainDns().collect(Target(domain=domain), ctx)

    yield run


def judge(check: type[Check], facts: DomainDnsFacts) -> Finding | Skip:
    (item,) = list(check().evaluate(Target(domain=facts.domain), {DomainDns: facts}))
    return item


def passed(check: type[Check], facts: DomainDnsFacts) -> bool:
    item = judge(check, facts)
    assert isinstance(item, Finding), item
    assert item.evidence and item.evidence[0].data["resolvers"] == ["192.0.2.53"]
    return item.passed


def apex(*txt: str, sub: Mapping[str, Sequence[str]] | None = None) -> dict[tuple[str, str], Sequence[str]]:
    """The domain's TXT and MX, plus TXT records at labels below it (``sub={"_dmarc": [...]}``)."""
    zone: dict[tuple[str, str], Sequence[str]] = {(DOMAIN, "TXT"): list(txt), (DOMAIN, "MX"): ["10 mx.clinic.example."]}
    for label, values in (sub or {}).items():
        zone[(f"{label}.{DOMAIN}", "TXT")] = values
    return zone


# --------------------------------------------------------------------- SPF


def test_spf_missing(collect: Any) -> None:
    assert not passed(DnsSpfMissing, collect(apex("google-site-verification=abc")))
    finding = judge(DnsSpfMissing, collect(apex("v=spf1 mx -all")))
    assert isinstance(finding, Finding) and finding.passed and "v=spf1 mx -all" in finding.detail
    assert finding.evidence[0].data["answers"][0]["records"] == ["v=spf1 mx -all"]


@pytest.mark.parametrize("spf, dmarc, ok", [
    ("v=spf1 mx -all", "", True),
    ("v=spf1 mx ~all", "", False),
    ("v=spf1 mx ~all", "v=DMARC1; p=none; rua=mailto:d@clinic.example", False),
    ("v=spf1 mx ~all", "v=DMARC1; p=reject; pct=50; rua=mailto:d@clinic.example", False),
    ("v=spf1 mx ~all", "v=DMARC1; p=quarantine", True),  # DMARC enforces on all mail
    ("v=spf1 mx ?all", "v=DMARC1; p=reject", False),
    ("v=spf1 mx", "v=DMARC1; p=reject", False),  # no all: neutral
    ("v=spf1 redirect=_spf.clinic.example", "", True),
])
def test_spf_weak(collect: Any, spf: str, dmarc: str, ok: bool) -> None:
    zone = apex(spf, sub={"_dmarc": [dmarc]} if dmarc else None)
    zone[("_spf.clinic.example", "TXT")] = ["v=spf1 ip4:192.0.2.0/24 -all"]
    assert passed(DnsSpfWeak, collect(zone)) is ok


def test_spf_plus_all_is_high_severity(collect: Any) -> None:
    finding = judge(DnsSpfWeak, collect(apex("v=spf1 +all")))
    assert isinstance(finding, Finding) and not finding.passed and finding.severity is Severity.HIGH
    assert "every host" in finding.detail


@pytest.mark.parametrize("spf", [(), ("v=spf1 -all", "v=spf1 +all"), ("v=spf1 bogus -all",)])
def test_spf_weak_skips_without_a_valid_record(collect: Any, spf: tuple[str, ...]) -> None:
    assert isinstance(judge(DnsSpfWeak, collect(apex(*spf))), Skip)


def test_spf_invalid(collect: Any) -> None:
    assert isinstance(judge(DnsSpfInvalid, collect(apex())), Skip)
    two = judge(DnsSpfInvalid, collect(apex("v=spf1 -all", "v=spf1 mx -all")))
    assert isinstance(two, Finding) and not two.passed and "2 SPF records" in two.detail
    bad = judge(DnsSpfInvalid, collect(apex("v=spf1 a:\x00bad -all")))
    assert isinstance(bad, Finding) and not bad.passed and "syntax error" in bad.detail
    assert "\x00" not in bad.detail and "\x00" not in str(bad.evidence[0].data)  # hostile bytes escaped
    many = apex("v=spf1 " + " ".join(f"a:h{i}.clinic.example" for i in range(11)) + " -all")
    many.update({(f"h{i}.clinic.example", "A"): ["192.0.2.1"] for i in range(11)})
    over = judge(DnsSpfInvalid, collect(many))
    assert isinstance(over, Finding) and not over.passed and "more than 10" in over.detail
    assert over.evidence[0].data["dns_terms"] == 11
    good = judge(DnsSpfInvalid, collect(apex("v=spf1 mx -all")))
    assert isinstance(good, Finding) and good.passed and "1 DNS-querying term" in good.detail


# --------------------------------------------------------------------- DMARC


def test_dmarc_missing_and_present(collect: Any) -> None:
    assert not passed(DnsDmarcMissing, collect(apex("v=spf1 -all")))
    assert passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=DMARC1; p=none"]})))
    assert not passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=DMARC1; p=none", "v=DMARC1; p=reject"]})))
    assert not passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=DMARC1; p=none; p=reject"]})))  # malformed
    assert not passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=DMARC1; p=bogus"]})))  # unusable
    assert passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=DMARC1; p=bogus; rua=mailto:d@clinic.example"]})))
    assert not passed(DnsDmarcMissing, collect(apex(sub={"_dmarc": ["v=dmarc1; p=reject"]})))  # not a DMARC record


def test_dmarc_falls_back_to_the_organizational_domain(collect: Any) -> None:
    zone = {("branch.clinic.example", "TXT"): ["v=spf1 -all"],
            ("_dmarc.clinic.example", "TXT"): ["v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@clinic.example"]}
    facts = collect(zone, "branch.clinic.example")
    assert facts.dmarc.source == "clinic.example" and facts.dmarc.inherited
    finding = judge(DnsDmarcMissing, facts)
    assert isinstance(finding, Finding) and finding.passed and "p=quarantine" in finding.detail
    assert "organizational domain clinic.example" in finding.detail
    assert [a.name for a in facts.dmarc.answers] == ["_dmarc.branch.clinic.example", "_dmarc.clinic.example"]


def test_dmarc_at_the_subdomain_wins_and_no_fallback_is_asked(collect: Any) -> None:
    zone = {("_dmarc.branch.clinic.example", "TXT"): ["v=DMARC1; p=none"],
            ("_dmarc.clinic.example", "TXT"): ["v=DMARC1; p=reject"]}
    facts = collect(zone, "branch.clinic.example")
    assert facts.dmarc.source == "branch.clinic.example" and len(facts.dmarc.answers) == 1


@pytest.mark.parametrize("record, ok, words", [
    ("v=DMARC1; p=reject; rua=mailto:d@clinic.example", True, "enforces"),
    ("v=DMARC1; p=quarantine; rua=mailto:d@clinic.example", True, "enforces"),
    ("v=DMARC1; p=none; rua=mailto:d@clinic.example", False, "p=none"),
    ("v=DMARC1; p=reject; pct=20; rua=mailto:d@clinic.example", False, "pct=20"),
    ("v=DMARC1; p=reject; sp=none; rua=mailto:d@clinic.example", False, "sp=none"),
    ("v=DMARC1; p=reject", False, "no rua"),
    ("v=DMARC1; p=reject; rua=mailto:d@clinic.example; pct=150", False, "pct='150'"),
])
def test_dmarc_weak(collect: Any, record: str, ok: bool, words: str) -> None:
    finding = judge(DnsDmarcWeak, collect(apex(sub={"_dmarc": [record]})))
    assert isinstance(finding, Finding) and finding.passed is ok and words in finding.detail, finding.detail


def test_dmarc_weak_uses_sp_for_an_inheriting_subdomain(collect: Any) -> None:
    zone = {("_dmarc.clinic.example", "TXT"): ["v=DMARC1; p=reject; sp=none; rua=mailto:d@clinic.example"],
            ("branch.clinic.example", "MX"): ["10 mx.clinic.example."]}
    finding = judge(DnsDmarcWeak, collect(zone, "branch.clinic.example"))
    assert isinstance(finding, Finding) and not finding.passed and "subdomains of clinic.example" in finding.detail


def test_dmarc_weak_skips_without_a_policy(collect: Any) -> None:
    assert isinstance(judge(DnsDmarcWeak, collect(apex())), Skip)


# --------------------------------------------------------------------- DKIM, MTA-STS, TLS-RPT

KEY = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs2T5Pc8N5EriQ483BUpe2ASh0G1V9mGzlAZI"


def test_dkim_found_under_a_common_selector(collect: Any) -> None:
    finding = judge(DnsDkimMissing, collect(apex(sub={"selector2._domainkey": [KEY]})))
    assert isinstance(finding, Finding) and finding.passed and "selector2._domainkey" in finding.detail


def test_dkim_not_found_says_not_absent(collect: Any) -> None:
    finding = judge(DnsDkimMissing, collect(apex("v=spf1 -all")))
    assert isinstance(finding, Finding) and not finding.passed
    assert "'not found', not 'absent'" in finding.detail and "--dkim-selector" in finding.detail
    assert "RFC 8020" in finding.detail  # _domainkey.<domain> is NXDOMAIN in this zone
    assert len(finding.evidence[0].data["answers"]) == 10  # _domainkey + 9 selectors


def test_dkim_extra_selector_and_revoked_key(collect: Any) -> None:
    zone = apex(sub={"practice2024._domainkey": [KEY], "default._domainkey": ["v=DKIM1; p="]})
    assert passed(DnsDkimMissing, collect(zone, selectors=("practice2024",)))
    finding = judge(DnsDkimMissing, collect(zone))  # without the selector only the revoked key is seen
    assert isinstance(finding, Finding) and not finding.passed and "revoked" in finding.detail


@pytest.mark.parametrize("records, ok", [
    (["v=STSv1; id=20261122T000000"], True),
    (["v=STSv1; id=abc123;"], True),
    ([], False),
    (["v=STSv1; id=1", "v=STSv1; id=2"], False),  # two records: no policy (RFC 8461 §3.1)
    (["v=STSv1; id=not valid!"], False),
    (["v=STSv1"], False),
])
def test_mta_sts(collect: Any, records: list[str], ok: bool) -> None:
    finding = judge(DnsMtaStsMissing, collect(apex(sub={"_mta-sts": records})))
    assert isinstance(finding, Finding) and finding.passed is ok
    if ok:
        assert "not fetched" in finding.detail


@pytest.mark.parametrize("records, ok", [
    (["v=TLSRPTv1; rua=mailto:tls@clinic.example"], True),
    (["v=TLSRPTv1; rua=https://reports.example/tlsrpt"], True),
    (["v=TLSRPTv1"], False),
    (["v=TLSRPTv1; rua=ftp://x.example"], False),
    (["v=TLSRPTv1; rua=mailto:a@b.example", "v=TLSRPTv1; rua=mailto:c@d.example"], False),
])
def test_tls_rpt(collect: Any, records: list[str], ok: bool) -> None:
    zone = apex()
    zone[("_smtp._tls." + DOMAIN, "TXT")] = records
    assert passed(DnsTlsRptMissing, collect(zone)) is ok


# --------------------------------------------------------------------- DNSSEC (facts by hand)


def _sec(**kw: Any) -> DnssecFacts:
    base = dict(zone=DOMAIN, dnskeys=("key tag 1 flags 257 ECDSAP256SHA256",), ds=("1 13 2 ab",),
                ds_matched_tags=(1,), dnskey_validated=True, soa_validated=True, problems=(),
                resolver_authenticated=False, answers=())
    base.update(kw)
    return DnssecFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("sec, ok, words", [
    (UNSIGNED, False, "not signed"),
    (_sec(ds=(), ds_matched_tags=()), False, "no DS"),
    (_sec(ds_matched_tags=()), False, "matches a DNSKEY"),
    (_sec(soa_validated=False, problems=("SOA signature: expired",)), False, "expired"),
    (_sec(), True, "validate now"),
    (_sec(resolver_authenticated=True), True, "AD flag"),
])
def test_dnssec(collect: Any, sec: DnssecFacts, ok: bool, words: str) -> None:
    finding = judge(DnsDnssecMissing, collect(apex(), dnssec=sec))
    assert isinstance(finding, Finding) and finding.passed is ok and words in finding.detail, finding.detail


# --------------------------------------------------------------------- the probe's own errors


def test_a_domain_that_does_not_exist_is_an_error(collect: Any) -> None:
    with pytest.raises(ProbeError, match="does not exist"):
        collect({}, "nothere.example")


@pytest.mark.parametrize("name", ["not a domain", "localhost", "-bad.example", "a..example"])
def test_a_malformed_domain_is_an_error(collect: Any, name: str) -> None:
    with pytest.raises(ProbeError, match="not a domain name"):
        collect({}, name)


def test_no_nameserver_is_an_out_of_scope_error() -> None:
    ctx = ProbeContext(timeouts=TimeoutConfig())
    with pytest.raises(ProbeError, match="--nameserver") as info:
        DomainDns().collect(Target(domain=DOMAIN), ctx)
    assert info.value.reason.value == "out_of_scope"


def test_probe_applies_to_domains_only() -> None:
    assert DomainDns.applies(Target(domain=DOMAIN))
    assert not DomainDns.applies(Target(host="192.0.2.1", port=25))


# --------------------------------------------------------------------- CLI -> runner -> probe (no network)


def _cli_scan(tmp_path: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["scan", "--domain", DOMAIN, "--out", str(tmp_path), "-q", "--format", "json",
                                      *args])
    data = json.loads((tmp_path / "scan.json").read_text()) if (tmp_path / "scan.json").exists() else {}
    return result.exit_code, data


def test_without_nameserver_every_domain_check_is_an_explained_error(tmp_path: Any) -> None:
    code, data = _cli_scan(tmp_path)
    assert code == 0
    ours = [r for r in data["results"] if r["target"]["domain"] == DOMAIN]
    assert ours and all(r["status"] == "error" and r["reason"] == "out_of_scope" for r in ours)
    assert all("--nameserver" in r["detail"] for r in ours)


def test_nameservers_and_dkim_selectors_flow_from_the_command_line(tmp_path: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    dns = FakeDns({**apex("v=spf1 -all"), ("mine2026._domainkey." + DOMAIN, "TXT"): [KEY]})

    def client(nameservers: tuple[str, ...], **kw: Any) -> FakeClient:
        seen["nameservers"] = nameservers
        return FakeClient(dns)

    monkeypatch.setattr(probe_mod, "DnsClient", client)
    monkeypatch.setattr(probe_mod.dnssec, "collect", lambda c, name: UNSIGNED)
    code, data = _cli_scan(tmp_path, "--nameserver", "192.0.2.53", "--dkim-selector", "Mine2026")
    assert code == 0 and seen["nameservers"] == ("192.0.2.53",)
    (dkim,) = [r for r in data["results"] if r["check_id"] == "dns.dkim_missing"]
    assert dkim["status"] == "pass" and "mine2026._domainkey" in dkim["detail"]


def test_a_bad_dkim_selector_is_an_input_error(tmp_path: Any) -> None:
    code, _ = _cli_scan(tmp_path, "--nameserver", "192.0.2.53", "--dkim-selector", "not a selector")
    assert code == 2
