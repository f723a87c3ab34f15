"""tls.legacy_protocol, tls.weak_cipher and tls.certificate_problem on hand-built facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from checks.tls.certificate import TlsCertificateProblem
from checks.tls.legacy_protocol import TlsLegacyProtocol
from checks.tls.probe import CertFacts, TlsFacts, TlsProbe, VersionResult, WeakSuite
from checks.tls.weak_cipher import TlsWeakCipher
from scanner.check import Check
from scanner.models import Finding, Severity, Skip, Target

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
TARGET = Target(host="198.18.0.31", port=443, service="https")


def _cert(**changes: Any) -> CertFacts:
    base: dict[str, Any] = dict(
        subject="CN=portal.good-clinic.test", issuer="CN=gapscan lab CA", not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=365), self_signed=False, key_type="RSA", key_bits=2048,
        signature_hash="sha256", dns_names=("portal.good-clinic.test",), ip_addresses=("198.18.0.31",),
        verified=True, verify_error="", fetched_with="TLSv1.3")
    base.update(changes)
    return CertFacts(**base)


def _facts(accepted: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"), weak: tuple[WeakSuite, ...] = (),
           cert: CertFacts | None = None, **kw: Any) -> TlsFacts:
    versions = tuple(VersionResult(v, v in accepted, None, "ServerHello" if v in accepted else "alert")
                     for v in ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"))
    return TlsFacts(True, "implicit TLS", versions=versions, weak_suites=weak, cert=cert or _cert(),
                    collected_at=NOW, **kw)


def _one(check: Check, facts: TlsFacts, target: Target = TARGET) -> Finding | Skip:
    (item,) = list(check.evaluate(target, {TlsProbe: facts}))
    return item


def test_legacy_protocol_names_each_accepted_version() -> None:
    bad = _one(TlsLegacyProtocol(), _facts(accepted=("SSLv3", "TLSv1.0", "TLSv1.1")))
    assert isinstance(bad, Finding) and not bad.passed
    assert "SSLv3, TLSv1.0, TLSv1.1" in bad.detail
    good = _one(TlsLegacyProtocol(), _facts())
    assert isinstance(good, Finding) and good.passed and "TLSv1.2, TLSv1.3" in good.detail
    assert good.evidence[0].data["versions"][0] == {"version": "SSLv3", "accepted": False, "cipher": None,
                                                    "answer": "alert"}


def test_unavailable_tls_is_skipped_by_all_three() -> None:
    facts = TlsFacts(False, "STARTTLS on smtp", unavailable="STARTTLS not offered in EHLO")
    for check in (TlsLegacyProtocol(), TlsWeakCipher(), TlsCertificateProblem()):
        item = _one(check, facts)
        assert isinstance(item, Skip) and "STARTTLS not offered" in item.detail


def test_weak_cipher_fails_on_null_and_anonymous_with_high_severity() -> None:
    weak = (WeakSuite("TLSv1.0", "NULL", "TLS_ECDHE_RSA_WITH_NULL_SHA"),
            WeakSuite("TLSv1.0", "static-RSA", "TLS_RSA_WITH_AES_256_CBC_SHA"))
    item = _one(TlsWeakCipher(), _facts(accepted=("TLSv1.0",), weak=weak))
    assert isinstance(item, Finding) and not item.passed and item.severity == Severity.HIGH
    assert "TLSv1.0 NULL (TLS_ECDHE_RSA_WITH_NULL_SHA)" in item.detail and "no forward secrecy" in item.detail


def test_weak_cipher_3des_is_medium_and_static_rsa_alone_passes() -> None:
    three = _one(TlsWeakCipher(), _facts(weak=(WeakSuite("TLSv1.2", "3DES", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),)))
    assert isinstance(three, Finding) and not three.passed and three.severity is None
    rsa = _one(TlsWeakCipher(), _facts(weak=(WeakSuite("TLSv1.2", "static-RSA", "TLS_RSA_WITH_AES_128_GCM_SHA256"),)))
    assert isinstance(rsa, Finding) and rsa.passed and "static-RSA" in rsa.detail


def test_certificate_pass_names_the_fields() -> None:
    item = _one(TlsCertificateProblem(), _facts())
    assert isinstance(item, Finding) and item.passed
    assert "RSA-2048" in item.detail and "name: match" in item.detail
    assert item.evidence[0].data["certificate"]["chain_verified"] is True


def test_certificate_problems_each_reported() -> None:
    cases = {
        "expired on 2026-11-01": _cert(not_after=NOW - dt.timedelta(days=21), verified=False,
                                       verify_error="certificate has expired (code 10)"),
        "not valid before": _cert(not_before=NOW + dt.timedelta(days=3)),
        "self-signed": _cert(self_signed=True, verified=False, verify_error="self-signed certificate (code 18)"),
        "chain does not verify (unable to get local issuer certificate": _cert(
            verified=False, verify_error="unable to get local issuer certificate (code 20)"),
        "name mismatch: 198.18.0.31": _cert(ip_addresses=("198.18.0.99",)),
        "weak key RSA-1024": _cert(key_bits=1024),
        "SHA1 signature": _cert(signature_hash="sha1"),
    }
    for needle, cert in cases.items():
        item = _one(TlsCertificateProblem(), _facts(cert=cert))
        assert isinstance(item, Finding) and not item.passed, needle
        assert needle in item.detail, (needle, item.detail)
    expired = _one(TlsCertificateProblem(), _facts(cert=cases["expired on 2026-11-01"]))
    assert isinstance(expired, Finding) and "chain does not verify" not in expired.detail  # named once


def test_ip_target_without_ip_in_certificate_is_no_name_to_match_not_a_failure() -> None:
    item = _one(TlsCertificateProblem(), _facts(cert=_cert(ip_addresses=())))
    assert isinstance(item, Finding) and item.passed and "no name to match" in item.detail


def test_hostname_matching_for_names() -> None:
    cert = _cert(dns_names=("*.good-clinic.test", "mail.lab.test"))
    assert cert.hostname_match("portal.good-clinic.test") == "match"
    assert cert.hostname_match("MAIL.lab.test") == "match"
    assert cert.hostname_match("a.b.good-clinic.test") == "mismatch"
    assert cert.hostname_match(None) == "no name to match"


def test_certificate_not_collected_over_ssl3_is_skipped_not_passed() -> None:
    facts = TlsFacts(True, "implicit TLS", versions=(VersionResult("SSLv3", True, "TLS_RSA_WITH_RC4_128_SHA"),),
                     cert=None, cert_error="only SSL 3.0 accepted")
    item = _one(TlsCertificateProblem(), facts)
    assert isinstance(item, Skip) and "only SSL 3.0" in item.detail
