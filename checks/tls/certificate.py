"""tls.certificate_problem — expired, not yet valid, self-signed or untrusted, wrong name, weak key, SHA-1.

The chain is verified against the default trust store (Python's ssl, which honours
SSL_CERT_FILE: an MSP adds the practice's private CA there). The name is matched against what
was scanned: for an IP target, against the certificate's IP addresses; a certificate that names
only DNS names gives "no name to match", which is reported but does not fail on its own.
Validity is judged at the time the certificate was collected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from checks.tls.common import APPLIES, TlsCheck
from checks.tls.probe import CertFacts, TlsFacts
from scanner.check import CheckMeta
from scanner.models import Finding, Severity, Skip, SkipReason, Target

MIN_RSA_BITS = 2048  # NIST SP 800-57 Part 1: 112-bit security
MIN_EC_BITS = 224
WEAK_HASHES = {"sha1", "md5", "md2", "md4"}


def problems(cert: CertFacts, host: str | None, when: dt.datetime) -> list[str]:
    found: list[str] = []
    if when > cert.not_after:
        found.append(f"expired on {cert.not_after:%Y-%m-%d}")
    if when < cert.not_before:
        found.append(f"not valid before {cert.not_before:%Y-%m-%d}")
    if cert.self_signed:
        found.append("self-signed")
    dated = any(s in cert.verify_error for s in ("expired", "not yet valid"))  # already named above
    if not cert.verified and not cert.self_signed and not dated:
        found.append(f"chain does not verify ({cert.verify_error})")
    if cert.hostname_match(host) == "mismatch":
        found.append(f"name mismatch: {host} not in {', '.join(cert.ip_addresses + cert.dns_names)}")
    if cert.key_type in ("RSA", "DSA") and cert.key_bits < MIN_RSA_BITS:
        found.append(f"weak key {cert.key_type}-{cert.key_bits}")
    if cert.key_type.startswith("EC-") and cert.key_bits < MIN_EC_BITS:
        found.append(f"weak key {cert.key_type} ({cert.key_bits} bits)")
    if cert.signature_hash in WEAK_HASHES:
        found.append(f"{cert.signature_hash.upper()} signature")
    return found


class TlsCertificateProblem(TlsCheck):
    meta = CheckMeta(
        id="tls.certificate_problem",
        title="TLS certificate is expired, self-signed, untrusted, misnamed or weak",
        severity=Severity.MEDIUM,
        applies_to=APPLIES,
        why=(
            "The service's certificate is expired, self-signed or for another name, so users cannot tell the real "
            "server from an impostor and learn to click through warnings."
        ),
        remediation=(
            "Install a certificate from a CA the practice's clients trust (public or the practice's own), naming "
            "the host as users reach it, with an RSA-2048+ or ECDSA P-256+ key and a SHA-256 signature; renew "
            "before it expires (automate with ACME where possible)."
        ),
        description="Fetches the server certificate, verifies the chain with the default trust store and "
                    "checks dates, name, key size and signature hash.",
    )

    def judge_tls(self, target: Target, tls: TlsFacts, where: str) -> Iterator[Finding | Skip]:
        if tls.cert is None:
            yield self.skip(target, SkipReason.MISSING_DEPENDENCY, f"certificate not collected: {tls.cert_error}")
            return
        cert = tls.cert
        found = problems(cert, target.host, tls.collected_at)
        facts_text = (f"subject {cert.subject}, issuer {cert.issuer}, {cert.key_type}-{cert.key_bits}, "
                      f"{cert.signature_hash}, valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d}, "
                      f"name: {cert.hostname_match(target.host)}")
        if found:
            yield self.finding(target, passed=False, detail=f"{where}: {'; '.join(found)} ({facts_text})",
                               evidence=[tls.evidence()])
        else:
            yield self.finding(target, passed=True, detail=f"{where}: chain verifies ({facts_text})",
                               evidence=[tls.evidence()])
