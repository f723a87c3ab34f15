"""pop3.cleartext_login — POP3 accepts a password before TLS (RFC 2449 CAPA, RFC 2595 STLS).

USER/PASS or SASL PLAIN/LOGIN advertised before STLS means mail clients send the password (and
then download the mailbox, ePHI) in clear: 164.312(e)(1), 164.312(e)(2)(ii).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.pop3_probe import Pop3Capa, Pop3Facts
from checks.mail.sasl import cleartext_mechanisms
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined
from scanner.net.text import sanitize


class Pop3CleartextLogin(SingleProbeCheck[Pop3Facts]):
    meta = CheckMeta(
        id="pop3.cleartext_login",
        title="POP3 server allows password login without TLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"pop3"})),
        why=(
            "Staff can download mail without encryption, so passwords and messages (which may include patient "
            "information) cross the network readable."
        ),
        remediation=(
            "Require TLS before login (Dovecot: ssl = required, disable_plaintext_auth = yes) and prefer implicit "
            "TLS on port 995."
        ),
        description="Reads CAPA before TLS: USER, SASL mechanisms and STLS.",
    )
    probe = Pop3Capa

    def judge(self, target: Target, pop3: Pop3Facts) -> Iterator[Finding | Skip | Undetermined]:
        if not pop3.greeting.startswith("+OK"):
            # RFC 1939 §4: a POP3 server greets with +OK; without it nothing below was said by one.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"no POP3 greeting (+OK) recorded "
                                    f"({sanitize(pop3.greeting, 60)!r})", evidence=[pop3.evidence()])
            return
        tls = "STLS offered but not required" if pop3.stls else "no STLS"
        if not pop3.capa_supported:
            passed = False
            detail = ("the server does not support CAPA (RFC 2449), so it cannot advertise STLS: clients log in "
                      "with USER/PASS in clear")
        else:
            problems = ["USER/PASS allowed"] if pop3.user_command else []
            exposed = cleartext_mechanisms(pop3.sasl_mechanisms)
            if exposed:
                problems.append("SASL " + " ".join(sanitize(m, 40) for m in exposed) + " offered")
            passed = not problems
            detail = (f"before TLS: {'; '.join(problems)} ({tls}): passwords would cross the network in clear"
                      if problems else "before TLS the server offers no password login"
                      + ("; STLS offered" if pop3.stls else "; no STLS: no login possible on this port"))
        yield self.finding(target, passed=passed, detail=detail, evidence=[pop3.evidence()])
