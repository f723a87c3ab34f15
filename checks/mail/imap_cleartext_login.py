"""imap.cleartext_login — IMAP accepts a password before TLS (RFC 3501 §6.2.3, RFC 8314 §3.2).

Without LOGINDISABLED before STARTTLS, or with AUTH=PLAIN/LOGIN offered there, mail clients
send the password (and then the mailbox, ePHI) in clear: 164.312(e)(1), 164.312(e)(2)(ii).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.mail.imap_probe import ImapCapability, ImapFacts
from checks.mail.sasl import cleartext_mechanisms
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class ImapCleartextLogin(SingleProbeCheck[ImapFacts]):
    meta = CheckMeta(
        id="imap.cleartext_login",
        title="IMAP server allows password login without TLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"imap"})),
        why=(
            "Staff can log in to their mailbox without encryption, so passwords and mailbox contents (which may "
            "include patient information) cross the network readable."
        ),
        remediation=(
            "Require TLS before login (Dovecot: ssl = required, disable_plaintext_auth = yes, which advertises "
            "LOGINDISABLED) and prefer implicit TLS on port 993."
        ),
        description="Reads CAPABILITY before TLS: LOGINDISABLED, STARTTLS and AUTH= mechanisms.",
    )
    probe = ImapCapability

    def judge(self, target: Target, imap: ImapFacts) -> Iterator[Finding | Skip]:
        problems = []
        if imap.preauth:
            problems.append("the server pre-authenticates the unencrypted connection (PREAUTH)")
        if not imap.login_disabled:
            problems.append("LOGIN is allowed (no LOGINDISABLED)")
        exposed = cleartext_mechanisms(imap.auth_mechanisms)
        if exposed:
            problems.append("AUTH=" + ", AUTH=".join(sanitize(m, 40) for m in exposed) + " offered")
        tls = "STARTTLS offered but not required" if imap.starttls else "no STARTTLS"
        if problems:
            detail = f"before TLS: {'; '.join(problems)} ({tls}): passwords would cross the network in clear"
        else:
            detail = ("before TLS the server advertises LOGINDISABLED and no password mechanism"
                      + ("; STARTTLS offered" if imap.starttls else "; no STARTTLS: no login possible on this port"))
        yield self.finding(target, passed=not problems, detail=detail, evidence=[imap.evidence()])
