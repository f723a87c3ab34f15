"""smtp.starttls_missing — an SMTP server that offers no STARTTLS (RFC 3207).

Mail to or from such a server crosses the network in clear text; for a practice that means
patient information in transit without encryption, a gap against 164.312(e)(1) and the
addressable encryption specification 164.312(e)(2)(ii) (mapping in profiles/frameworks).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.smtp_probe import SmtpEhlo, SmtpEhloFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined


class SmtpStarttlsMissing(SingleProbeCheck[SmtpEhloFacts]):
    meta = CheckMeta(
        id="smtp.starttls_missing",
        title="SMTP server does not offer STARTTLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smtp", "submission"})),
        intrusive=False,
        why=(
            "Mail to and from this server travels unencrypted, so anyone on the path can read messages that may "
            "hold patient information. Encryption in transit is \"addressable\": if it is not used, the practice must "
            "document why and what it does instead."
        ),
        remediation=(
            "Enable STARTTLS with a valid certificate (Postfix: smtpd_tls_cert_file, smtpd_tls_key_file, "
            "smtpd_tls_security_level = may, or = encrypt on submission ports; Exchange: bind a certificate "
            "to the SMTP service). Require TLS 1.2 or later."
        ),
        description="Reads the EHLO reply before any TLS and looks for the STARTTLS extension.",
    )
    probe = SmtpEhlo

    def judge(self, target: Target, ehlo: SmtpEhloFacts) -> Iterator[Finding | Skip | Undetermined]:
        if not 200 <= ehlo.ehlo_code <= 599:
            # No SMTP reply to EHLO was recorded (RFC 5321 §4.2: a three-digit code): nothing to judge.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"no SMTP reply code to EHLO recorded "
                                    f"(got {ehlo.ehlo_code})", evidence=[ehlo.evidence()])
            return
        if not ehlo.esmtp:
            detail = f"server refused EHLO ({ehlo.ehlo_code}) and speaks only HELO: no STARTTLS possible"
        elif ehlo.starttls_offered:
            detail = "STARTTLS offered in the EHLO reply"
        else:
            offered = ", ".join(sorted(ehlo.extensions)) or "no extensions"
            detail = f"STARTTLS not offered (EHLO lists: {offered})"
        yield self.finding(target, passed=ehlo.starttls_offered, detail=detail, evidence=[ehlo.evidence()])
