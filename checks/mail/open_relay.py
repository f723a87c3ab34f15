"""smtp.open_relay — the server accepts mail from an outside sender to an outside domain.

Anyone can then use the practice's mail system (the Security Rule's "access" includes using a
system resource, 164.304): an access-control and risk-management gap, 164.312(a)(1) and
164.308(a)(1)(ii)(B). The probe stops before DATA: nothing is ever sent.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.smtp_relay_probe import SmtpRelay, SmtpRelayFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined
from scanner.net.text import sanitize


class SmtpOpenRelay(SingleProbeCheck[SmtpRelayFacts]):
    meta = CheckMeta(
        id="smtp.open_relay",
        title="SMTP server relays mail for outside senders (open relay)",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smtp", "submission"})),
        intrusive=False,  # RCPT replies only: no DATA, so no message can exist (see the probe)
        why=(
            "Anyone on the internet can send mail through this server, in the practice's name. It is a well-known, "
            "easily abused weakness that a risk assessment is expected to catch and fix."
        ),
        remediation=(
            "Relay only for authenticated users and the practice's own networks (Postfix: smtpd_relay_restrictions "
            "= permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination with a narrow mynetworks)."
        ),
        description="MAIL FROM an outside address, RCPT TO an outside domain in 6 address forms, RSET; never DATA.",
    )
    probe = SmtpRelay

    def judge(self, target: Target, relay: SmtpRelayFacts) -> Iterator[Finding | Skip | Undetermined]:
        accepted = relay.accepted
        tried = len(relay.attempts)
        unanswered = [a.variant for a in relay.attempts if not a.accepted
                      and (a.rcpt_reply or a.mail_reply)[:1] not in ("4", "5")]
        if not accepted and unanswered:
            # "Refused" needs the server's 4yz/5yz reply (RFC 5321 §4.2.1) to each attempt.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"no refusal recorded for {len(unanswered)} of "
                                    f"{tried} relay attempt(s) ({', '.join(sanitize(v, 40) for v in unanswered)})",
                                    evidence=[relay.evidence()])
            return
        if accepted:
            forms = ", ".join(f"{a.variant} ({sanitize(a.rcpt_reply, 40)})" for a in accepted)
            detail = f"accepted {len(accepted)} of {tried} outside recipients from an outside sender: {forms}"
        elif tried:
            codes = sorted({(a.rcpt_reply or a.mail_reply)[:3] for a in relay.attempts})
            detail = f"refused all {tried} outside recipients (replies {', '.join(codes)})"
        else:
            detail = "no relay attempt could be made"
        yield self.finding(target, passed=tried > 0 and not accepted, detail=detail, evidence=[relay.evidence()])
