"""SPF (RFC 7208): the parser on literal records, macro expansion (§7.4's own examples),
check_host() on Appendix A's example zone, and the static audit's limits (§4.6.4)."""

from __future__ import annotations

import ipaddress

import pytest

from checks.dns.spf import Mechanism, SpfSyntaxError, is_spf, parse, parse_macro_string, spf_records
from checks.dns.spf_eval import SpfResult, analyze
from tests.unit.spf_check_host import check_host
from tests.unit.spf_macro import MacroContext, as_domain, expand
from tests.unit.test_dns_helpers import FakeDns

# --------------------------------------------------------------------- record selection (§4.5)


@pytest.mark.parametrize("text, expected", [
    ("v=spf1", True), ("v=spf1 -all", True), ("V=SPF1 -all", True), ("v=spf10 -all", False),
    ("v=spf1-all", False), (" v=spf1 -all", False), ("spf2.0/pra include:x.test", False), ("", False),
])
def test_is_spf(text: str, expected: bool) -> None:
    assert is_spf(text) is expected


def test_only_spf_records_are_selected_from_txt() -> None:
    assert spf_records(["google-site-verification=x", "v=spf1 -all", "v=spf10 +all"]) == ["v=spf1 -all"]


# --------------------------------------------------------------------- parsing (§4.6, §5, §6, §12)


@pytest.mark.parametrize("record", [
    # Appendix A.1
    "v=spf1 +all", "v=spf1 a -all", "v=spf1 a:example.org -all", "v=spf1 mx -all",
    "v=spf1 mx:example.org -all", "v=spf1 mx mx:example.org -all", "v=spf1 mx/30 mx:example.org/30 -all",
    "v=spf1 ptr -all", "v=spf1 ip4:192.0.2.128/28 -all",
    # Appendix A.2-A.4
    "v=spf1 include:example.com include:example.net -all",
    "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
    "v=spf1 exists:%{l1r+}.%{d}", "v=spf1 exists:%{ir}.%{l1r+}.%{d}",
    "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", "v=spf1 -ip4:192.0.2.0/24 +all",
    "v=spf1 -ptr +all",
    # other shapes
    "v=spf1 redirect=_spf.example.com", "v=spf1 mx -all exp=explain._spf.%{d}",
    "v=spf1 ip6:2001:db8::/32 ip4:203.0.113.5 a//64 a/24//64 ?all", "v=spf1   INCLUDE:Example.COM   -ALL  ",
    "v=spf1 unknown-mod=whatever -all", "v=spf1 include:example.com.", "v=spf1",
])
def test_valid_records_parse(record: str) -> None:
    assert parse(record).text == record


@pytest.mark.parametrize("record, fragment", [
    ("v=spf1 foo:example.com -all", "unknown mechanism"),
    ("v=spf1 include -all", "needs a domain"),
    ("v=spf1 include:localhost -all", "top label"),
    ("v=spf1 a:1.2.3.4 -all", "top label"),  # toplabel must not be all-numeric (§7.1)
    ("v=spf1 ip4:192.0.2.300 -all", "not an IPv4"),
    ("v=spf1 ip4:192.0.2.0/33 -all", "prefix"),
    ("v=spf1 ip4:192.0.2.0/024 -all", "prefix"),
    ("v=spf1 ip6:2001:db8::/129 -all", "prefix"),
    ("v=spf1 ip6:192.0.2.1 -all", "not an IPv6"),
    ("v=spf1 a/33 -all", "prefix"),
    ("v=spf1 -all:foo", "takes no argument"),
    ("v=spf1 redirect=a.example redirect=b.example", "more than once"),
    ("v=spf1 exp=a.example exp=b.example -all", "more than once"),
    ("v=spf1 include:%{x}.example.com", "macro letter"),
    ("v=spf1 include:%{c}.example.com", "not allowed here"),  # c is for explanations only (§7.2)
    ("v=spf1 exists:%{d0}.example.com", "nonzero"),
    ("v=spf1 include:foo..example.com", "not a valid domain"),
    ("v=spf1 include:exa\u00efmple.com", "not allowed"),
    ("v=spf1 -redirect=a.example", "unknown mechanism"),
    ("v=spf1 mx:%{d -all", "bad macro"),
])
def test_syntax_errors_name_the_problem(record: str, fragment: str) -> None:
    with pytest.raises(SpfSyntaxError, match=fragment):
        parse(record)


def test_terms_are_typed() -> None:
    record = parse("v=spf1 ~a:mail.example.com/24//64 ip6:2001:db8::1 redirect=_spf.example.com exp=x.example.com")
    a, ip6 = record.mechanisms
    assert (a.qualifier, a.name, a.domain_spec, a.cidr4, a.cidr6) == ("~", "a", "mail.example.com", 24, 64)
    assert a.result == "softfail" and a.queries_dns
    assert ip6.network == ipaddress.ip_network("2001:db8::1/128") and not ip6.queries_dns
    assert record.redirect == "_spf.example.com" and record.modifier("exp") == "x.example.com"


def test_redirect_is_ignored_when_all_is_present() -> None:
    # §6.1: "ignored if there is an 'all' mechanism anywhere in the record".
    assert parse("v=spf1 -all redirect=_spf.example.com").redirect is None


# --------------------------------------------------------------------- macros (§7.4's examples)

SENDER = "strong-bad@email.example.com"
CTX4 = MacroContext(SENDER, "email.example.com", ipaddress.ip_address("192.0.2.3"))
CTX6 = MacroContext(SENDER, "email.example.com", ipaddress.ip_address("2001:db8::cb01"))


@pytest.mark.parametrize("macro, expected", [
    ("%{s}", "strong-bad@email.example.com"), ("%{o}", "email.example.com"), ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"), ("%{d3}", "email.example.com"), ("%{d2}", "example.com"),
    ("%{d1}", "com"), ("%{dr}", "com.example.email"), ("%{d2r}", "example.email"), ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"), ("%{lr}", "strong-bad"), ("%{lr-}", "bad.strong"), ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%%%_%-", "% %20"),
])
def test_rfc7208_macro_examples(macro: str, expected: str) -> None:
    assert expand(parse_macro_string(macro), CTX4) == expected


def test_rfc7208_macro_example_ipv6() -> None:
    expected = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    assert expand(parse_macro_string("%{ir}.%{v}._spf.%{d2}"), CTX6) == expected


def test_uppercase_macro_is_url_escaped_and_long_names_truncated() -> None:
    ctx = MacroContext("a b@x.example", "x.example", ipaddress.ip_address("192.0.2.1"))
    assert expand(parse_macro_string("%{L}.x.example"), ctx) == "a%20b.x.example"
    long_name = ".".join(["a" * 60] * 5) + ".example.com"
    assert len(as_domain(long_name)) <= 253 and as_domain(long_name).endswith(".example.com")


# --------------------------------------------------------------------- check_host() on Appendix A

APPENDIX_A = {
    ("example.com", "MX"): ["10 mail-a.example.com.", "20 mail-b.example.com."],
    ("example.com", "A"): ["192.0.2.10", "192.0.2.11"],
    ("amy.example.com", "A"): ["192.0.2.65"],
    ("bob.example.com", "A"): ["192.0.2.66"],
    ("mail-a.example.com", "A"): ["192.0.2.129"],
    ("mail-b.example.com", "A"): ["192.0.2.130"],
    ("www.example.com", "A"): ["192.0.2.10", "192.0.2.11"],
    ("example.org", "MX"): ["10 mail-c.example.org."],
    ("mail-c.example.org", "A"): ["192.0.2.140"],
    ("10.2.0.192.in-addr.arpa", "PTR"): ["example.com."],
    ("11.2.0.192.in-addr.arpa", "PTR"): ["example.com."],
    ("65.2.0.192.in-addr.arpa", "PTR"): ["amy.example.com."],
    ("66.2.0.192.in-addr.arpa", "PTR"): ["bob.example.com."],
    ("129.2.0.192.in-addr.arpa", "PTR"): ["mail-a.example.com."],
    ("130.2.0.192.in-addr.arpa", "PTR"): ["mail-b.example.com."],
    ("140.2.0.192.in-addr.arpa", "PTR"): ["mail-c.example.org."],
    ("4.0.0.10.in-addr.arpa", "PTR"): ["bob.example.com."],
}


def _zone(record: str) -> FakeDns:
    return FakeDns({**APPENDIX_A, ("example.com", "TXT"): [record]})


@pytest.mark.parametrize("record, ip, expected", [
    ("v=spf1 +all", "192.0.2.200", "pass"),
    ("v=spf1 a -all", "192.0.2.10", "pass"), ("v=spf1 a -all", "192.0.2.11", "pass"),
    ("v=spf1 a -all", "192.0.2.65", "fail"),
    ("v=spf1 a:example.org -all", "192.0.2.10", "fail"),  # example.org has no A record
    ("v=spf1 mx -all", "192.0.2.129", "pass"), ("v=spf1 mx -all", "192.0.2.130", "pass"),
    ("v=spf1 mx -all", "192.0.2.140", "fail"),
    ("v=spf1 mx:example.org -all", "192.0.2.140", "pass"),
    ("v=spf1 mx mx:example.org -all", "192.0.2.129", "pass"),
    ("v=spf1 mx mx:example.org -all", "192.0.2.130", "pass"),
    ("v=spf1 mx mx:example.org -all", "192.0.2.140", "pass"),
    ("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.131", "pass"),  # in 192.0.2.128/30
    ("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.143", "pass"),  # in 192.0.2.140/30
    ("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.136", "fail"),
    ("v=spf1 ptr -all", "192.0.2.65", "pass"),  # reverse DNS valid and in example.com
    ("v=spf1 ptr -all", "192.0.2.140", "fail"),  # valid, but in example.org
    ("v=spf1 ptr -all", "10.0.0.4", "fail"),  # bob.example.com does not resolve back to it
    ("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65", "fail"),
    ("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.129", "pass"),
    ("v=spf1 ip4:192.0.2.128/28 -all", "::ffff:192.0.2.129", "pass"),  # IPv4-mapped (§5)
    ("v=spf1 ?all", "192.0.2.1", "neutral"), ("v=spf1 ~all", "192.0.2.1", "softfail"),
    ("v=spf1 mx", "192.0.2.1", "neutral"),  # nothing matched, no redirect (§4.7)
])
def test_appendix_a1_simple_examples(record: str, ip: str, expected: str) -> None:
    assert check_host(ip, "example.com", "user@example.com", _zone(record)).value == expected


def test_appendix_a2_multiple_domains() -> None:
    dns = FakeDns({**APPENDIX_A,
                   ("example.com", "TXT"): ["v=spf1 include:example.org include:example.net -all"],
                   ("example.org", "TXT"): ["v=spf1 mx -all"],
                   ("example.net", "TXT"): ["v=spf1 ip4:192.0.2.21 ip4:192.0.2.22 -all"]})
    assert check_host("192.0.2.140", "example.com", "u@example.com", dns) is SpfResult.PASS
    assert check_host("192.0.2.22", "example.com", "u@example.com", dns) is SpfResult.PASS
    # An include's "fail" is only "no match": the including record's own -all decides.
    assert check_host("192.0.2.129", "example.com", "u@example.com", dns) is SpfResult.FAIL


def test_appendix_a3_dnsbl_style() -> None:
    dns = FakeDns({**APPENDIX_A,
                   ("example.com", "TXT"): ["v=spf1 mx include:mobile-users._spf.%{d} "
                                            "include:remote-users._spf.%{d} -all"],
                   ("mobile-users._spf.example.com", "TXT"): ["v=spf1 exists:%{l1r+}.%{d}"],
                   ("remote-users._spf.example.com", "TXT"): ["v=spf1 exists:%{ir}.%{l1r+}.%{d}"],
                   ("mary.mobile-users._spf.example.com", "A"): ["127.0.0.2"],
                   ("fred.mobile-users._spf.example.com", "A"): ["127.0.0.2"],
                   ("15.15.168.192.joel.remote-users._spf.example.com", "A"): ["127.0.0.2"],
                   ("16.15.168.192.joel.remote-users._spf.example.com", "A"): ["127.0.0.2"]})
    assert check_host("198.51.100.7", "example.com", "mary@example.com", dns) is SpfResult.PASS
    assert check_host("192.168.15.15", "example.com", "joel@example.com", dns) is SpfResult.PASS
    assert check_host("192.168.15.17", "example.com", "joel@example.com", dns) is SpfResult.FAIL
    assert check_host("192.0.2.129", "example.com", "anyone@example.com", dns) is SpfResult.PASS  # mx


@pytest.mark.parametrize("ptr_term, passes_65", [
    # As printed, the bare "ptr" of the included record names the include target
    # (ptr._spf.example.com), which no reverse name is under: every host fails.
    ("-ptr", False),
    # What the example means (both conditions): give the ptr mechanism the organizational domain.
    ("-ptr:%{d2}", True),
])
def test_appendix_a4_multiple_requirements(ptr_term: str, passes_65: bool) -> None:
    dns = FakeDns({**APPENDIX_A,
                   ("example.com", "TXT"): ["v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all"],
                   ("ip4._spf.example.com", "TXT"): ["v=spf1 -ip4:192.0.2.0/24 +all"],
                   ("ptr._spf.example.com", "TXT"): [f"v=spf1 {ptr_term} +all"]})
    expected_65 = SpfResult.PASS if passes_65 else SpfResult.FAIL
    assert check_host("192.0.2.65", "example.com", "u@example.com", dns) is expected_65  # in range, amy.example.com
    assert check_host("192.0.2.140", "example.com", "u@example.com", dns) is SpfResult.FAIL  # reverse in example.org
    assert check_host("10.0.0.4", "example.com", "u@example.com", dns) is SpfResult.FAIL  # outside the range


def test_check_host_errors() -> None:
    assert check_host("192.0.2.1", "example.com", "u@example.com", FakeDns({})) is SpfResult.NONE
    two = FakeDns({("example.com", "TXT"): ["v=spf1 -all", "v=spf1 +all"]})
    assert check_host("192.0.2.1", "example.com", "u@example.com", two) is SpfResult.PERMERROR
    bad = FakeDns({("example.com", "TXT"): ["v=spf1 ip4:nonsense -all"]})
    assert check_host("192.0.2.1", "example.com", "u@example.com", bad) is SpfResult.PERMERROR
    failing = FakeDns({("example.com", "TXT"): ["v=spf1 include:broken.example -all"]}, failing=["broken.example"])
    assert check_host("192.0.2.1", "example.com", "u@example.com", failing) is SpfResult.TEMPERROR
    loop = FakeDns({("example.com", "TXT"): ["v=spf1 include:example.com -all"]})
    assert check_host("192.0.2.1", "example.com", "u@example.com", loop) is SpfResult.PERMERROR
    assert check_host("192.0.2.1", "localhost", "u@localhost", FakeDns({})) is SpfResult.NONE  # §4.3


# --------------------------------------------------------------------- the static audit (§4.6.4)


def _a_terms(count: int, domain: str = "x.example") -> str:
    return " ".join(f"a:h{i}.{domain}" for i in range(count))


def _hosts(count: int, domain: str = "x.example") -> dict[tuple[str, str], list[str]]:
    return {(f"h{i}.{domain}", "A"): ["192.0.2.1"] for i in range(count)}


def test_ten_dns_terms_are_fine_eleven_are_a_permerror() -> None:
    ok = analyze("x.example", FakeDns({("x.example", "TXT"): [f"v=spf1 {_a_terms(10)} -all"], **_hosts(11)}))
    assert ok.result is SpfResult.FAIL and ok.dns_terms == 10 and ok.valid
    over = analyze("x.example", FakeDns({("x.example", "TXT"): [f"v=spf1 {_a_terms(11)} -all"], **_hosts(11)}))
    assert over.result is SpfResult.PERMERROR and over.problem_kind == "lookup_limit"
    assert "11th is 'a:h10.x.example'" in over.problem


def test_lookups_are_counted_across_includes_and_redirect() -> None:
    zone = {("x.example", "TXT"): ["v=spf1 mx include:a.x.example redirect=b.x.example"],
            ("x.example", "MX"): ["10 mail.x.example."],
            ("a.x.example", "TXT"): [f"v=spf1 {_a_terms(4)} -all"],
            ("b.x.example", "TXT"): [f"v=spf1 {_a_terms(4, 'b.x.example')} ~all"],
            **_hosts(4), **_hosts(4, "b.x.example")}
    result = analyze("x.example", FakeDns(zone))
    assert result.dns_terms == 11 and result.result is SpfResult.PERMERROR  # 1+1+4+1+4
    zone[("b.x.example", "TXT")] = [f"v=spf1 {_a_terms(3, 'b.x.example')} ~all"]
    result = analyze("x.example", FakeDns(zone))
    assert result.dns_terms == 10 and result.result is SpfResult.SOFTFAIL
    assert result.policy == "redirect=b.x.example: ~all in b.x.example"
    assert [d for d, _ in result.walked] == ["x.example", "a.x.example", "b.x.example"]


def test_two_void_lookups_are_fine_three_are_a_permerror() -> None:
    two = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 a:gone1.x.example mx:gone2.x.example -all"]}))
    assert two.void_lookups == 2 and two.result is SpfResult.FAIL
    three = analyze("x.example", FakeDns({("x.example", "TXT"): [
        "v=spf1 a:gone1.x.example mx:gone2.x.example exists:gone3.x.example -all"]}))
    assert three.result is SpfResult.PERMERROR and three.problem_kind == "void_limit"


def test_a_with_only_aaaa_is_not_void() -> None:
    result = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 a:v6.x.example -all"],
                                           ("v6.x.example", "AAAA"): ["2001:db8::1"]}))
    assert result.void_lookups == 0


@pytest.mark.parametrize("zone, kind", [
    ({("x.example", "TXT"): ["v=spf1 include:y.example -all"], ("y.example", "TXT"): ["v=spf1 include:x.example -all"]},
     "loop"),
    ({("x.example", "TXT"): ["v=spf1 include:x.example -all"]}, "loop"),
    ({("x.example", "TXT"): ["v=spf1 redirect=y.example"], ("y.example", "TXT"): ["v=spf1 redirect=x.example"]},
     "loop"),
    ({("x.example", "TXT"): ["v=spf1 include:y.example -all"], ("y.example", "TXT"): ["not spf"]}, "target_none"),
    ({("x.example", "TXT"): ["v=spf1 redirect=nowhere.example"]}, "target_none"),
    ({("x.example", "TXT"): ["v=spf1 include:y.example -all"], ("y.example", "TXT"): ["v=spf1 -all", "v=spf1 +all"]},
     "multiple"),
    ({("x.example", "TXT"): ["v=spf1 include:y.example -all"], ("y.example", "TXT"): ["v=spf1 bogus -all"]}, "syntax"),
    ({("x.example", "TXT"): ["v=spf1 mx -all"], ("x.example", "MX"): [f"10 m{i}.x.example." for i in range(11)]},
     "mx_limit"),
])
def test_permerrors_of_the_audit(zone: dict[tuple[str, str], list[str]], kind: str) -> None:
    result = analyze("x.example", FakeDns(zone))
    assert (result.result, result.problem_kind) == (SpfResult.PERMERROR, kind), result.problem


def test_two_records_at_the_domain() -> None:
    result = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 mx -all", "v=spf1 ip4:192.0.2.1 ~all"]}))
    assert result.result is SpfResult.PERMERROR and result.problem_kind == "multiple" and len(result.records) == 2


def test_no_record_and_nonexistent_domain_are_none() -> None:
    assert analyze("x.example", FakeDns({("x.example", "TXT"): ["hello"]})).result is SpfResult.NONE
    gone = analyze("x.example", FakeDns({}))
    assert gone.result is SpfResult.NONE and "NXDOMAIN" in gone.problem


def test_dns_failure_is_a_temperror_not_a_verdict() -> None:
    result = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 include:y.example -all"]},
                                          failing=["y.example"]))
    assert result.result is SpfResult.TEMPERROR and not result.valid


def test_policy_without_all_is_neutral_and_terms_after_all_are_noted() -> None:
    none = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 ip4:192.0.2.1"]}))
    assert none.result is SpfResult.NEUTRAL and "neutral" in none.policy
    after = analyze("x.example", FakeDns({("x.example", "TXT"): ["v=spf1 -all a:never.x.example"]}))
    assert after.result is SpfResult.FAIL and after.dns_terms == 0 and any("after 'all'" in n for n in after.notes)


def test_macros_and_ptr_are_noted_not_queried() -> None:
    dns = FakeDns({("x.example", "TXT"): ["v=spf1 ptr exists:%{i}.bl.x.example include:%{d}.x.example -all"]})
    result = analyze("x.example", dns)
    assert result.dns_terms == 3 and result.result is SpfResult.FAIL
    assert dns.asked == [("x.example", "TXT")]  # nothing else was asked
    assert len(result.notes) == 3


def test_the_audit_records_every_answer_it_used() -> None:
    dns = FakeDns({("x.example", "TXT"): ["v=spf1 include:y.example -all"], ("y.example", "TXT"): ["v=spf1 -all"]})
    result = analyze("x.example", dns)
    assert [(a.name, a.rdtype) for a in result.answers] == dns.asked == [("x.example", "TXT"), ("y.example", "TXT")]


def test_mechanism_defaults() -> None:
    assert Mechanism("+", "a").cidr4 == 32 and parse("v=spf1 a").mechanisms[0].cidr6 == 128
