"""smtp.tls_weak — STARTTLS negotiates a protocol below TLS 1.2 (RFC 8996 deprecates TLS 1.0/1.1).

Judged on the version the server picks when this client offers everything its OpenSSL can
(TLS 1.0 to 1.3): what a modern sending MTA would get. Encryption that settles for a deprecated
protocol is a weak basis for the encryption specification 164.312(e)(2)(ii) and the integrity
controls of 164.312(e)(2)(i).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.smtp_tls_probe import SmtpStarttls, SmtpTlsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, SkipReason, Target
from scanner.net.text import sanitize


class SmtpTlsWeak(SingleProbeCheck[SmtpTlsFacts]):
    meta = CheckMeta(
        id="smtp.tls_weak",
        title="SMTP STARTTLS negotiates a protocol below TLS 1.2",
        severity=Severity.MEDIUM,
        applies_to=Applies(services=frozenset({"smtp", "submission"})),
        why=(
            "The server encrypts mail with old or breakable protocol versions. Encryption that can be downgraded "
            "does not reliably protect patient information and is a weak basis for treating intercepted data as "
            "\"secured\" under the breach rules."
        ),
        remediation=(
            "Enable TLS 1.2 and 1.3 for STARTTLS and disable TLS 1.0/1.1 and SSL (Postfix: smtpd_tls_protocols = "
            ">=TLSv1.2 and smtpd_tls_mandatory_protocols = >=TLSv1.2; update the TLS library if it lacks 1.2)."
        ),
        description="Runs STARTTLS and one handshake offering TLS 1.0-1.3; reports the negotiated version.",
    )
    probe = SmtpStarttls

    def judge(self, target: Target, tls: SmtpTlsFacts) -> Iterator[Finding | Skip]:
        if not tls.starttls_offered:
            yield self.skip(target, SkipReason.NOT_APPLICABLE, "STARTTLS not offered (see smtp.starttls_missing)")
            return
        if tls.tls_version is None:
            detail = (f"STARTTLS offered but refused ({sanitize(tls.starttls_reply, 120)!r}): senders fall back "
                      "to plaintext")
            passed = False
        elif tls.negotiated_legacy:
            detail = (f"STARTTLS negotiated {tls.tls_version} ({tls.cipher}) although this client offered "
                      f"{tls.offered_range}: the server supports nothing newer")
            passed = False
        else:
            detail = f"STARTTLS negotiated {tls.tls_version} ({tls.cipher}); this client offered {tls.offered_range}"
            passed = True
        yield self.finding(target, passed=passed, detail=detail, evidence=[tls.evidence()])
