"""smtp.cleartext_auth — AUTH offered before STARTTLS (RFC 4954 §4: SHOULD NOT without TLS).

A mail client that authenticates on such a port sends the user's password (PLAIN, LOGIN) in
clear text: exposed credentials undermine person-or-entity authentication, and the session
itself (mail with ePHI) is unencrypted: 164.312(e)(1), 164.312(d).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.sasl import cleartext_mechanisms
from checks.mail.smtp_probe import SmtpEhlo, SmtpEhloFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined
from scanner.net.text import sanitize


class SmtpCleartextAuth(SingleProbeCheck[SmtpEhloFacts]):
    meta = CheckMeta(
        id="smtp.cleartext_auth",
        title="SMTP server offers password authentication before TLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smtp", "submission"})),
        why=(
            "Staff mail passwords can be sent before encryption starts, where anyone on the network can read them. "
            "A stolen mailbox password opens every message in that mailbox."
        ),
        remediation=(
            "Offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Exchange: require TLS on the "
            "client receive connector), or use implicit TLS on port 465."
        ),
        description="Reads the EHLO reply before TLS and lists the SASL mechanisms that send a secret in clear.",
    )
    probe = SmtpEhlo

    def judge(self, target: Target, ehlo: SmtpEhloFacts) -> Iterator[Finding | Skip | Undetermined]:
        if not 200 <= ehlo.ehlo_code <= 599:
            # No SMTP reply to EHLO was recorded (RFC 5321 §4.2: a three-digit code): nothing to judge.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"no SMTP reply code to EHLO recorded "
                                    f"(got {ehlo.ehlo_code})", evidence=[ehlo.evidence()])
            return
        mechanisms = ehlo.auth_mechanisms
        exposed = cleartext_mechanisms(mechanisms)
        tls = "STARTTLS is offered but not required for AUTH" if ehlo.starttls_offered else "no STARTTLS at all"
        if exposed:
            detail = (f"AUTH {' '.join(sanitize(m, 40) for m in exposed)} offered before TLS ({tls}): "
                      "passwords would cross the network in clear")
        elif mechanisms:
            offered = " ".join(sanitize(m, 40) for m in mechanisms)
            detail = f"only challenge-response AUTH offered before TLS ({offered}): no password is sent in clear"
        else:
            detail = "no AUTH offered before TLS"
        yield self.finding(target, passed=not exposed, detail=detail, evidence=[ehlo.evidence()])
