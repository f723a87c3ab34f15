"""tls.legacy_protocol — the service accepts SSL 3.0, TLS 1.0 or TLS 1.1.

RFC 7568 prohibits SSL 3.0 and RFC 8996 deprecates TLS 1.0/1.1; NIST SP 800-52 Rev. 2 (the
guidance HHS points to for data in motion) asks for TLS 1.2 or later. Each version is offered
alone in a crafted ClientHello, so a PASS means each legacy version was asked for and refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.tls.common import APPLIES, TlsCheck
from checks.tls.hello import LEGACY
from checks.tls.probe import TlsFacts
from scanner.check import CheckMeta
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined


class TlsLegacyProtocol(TlsCheck):
    meta = CheckMeta(
        id="tls.legacy_protocol",
        title="Service accepts SSL 3.0, TLS 1.0 or TLS 1.1",
        severity=Severity.MEDIUM,
        applies_to=APPLIES,
        why=(
            "The service still accepts old encryption versions (SSL 3.0, TLS 1.0 or 1.1) that attackers can weaken "
            "or break. Data sent that way is poorly protected and hard to call \"secured\" after a breach."
        ),
        remediation=(
            "Disable SSL 3.0, TLS 1.0 and TLS 1.1 and serve TLS 1.2 and 1.3 only (nginx: ssl_protocols TLSv1.2 "
            "TLSv1.3; Postfix: smtpd_tls_protocols = >=TLSv1.2; Dovecot: ssl_min_protocol = TLSv1.2; vsftpd: "
            "ssl_tlsv1 = NO); upgrade devices whose TLS library has nothing newer."
        ),
        description="Offers each of SSL 3.0, TLS 1.0, 1.1, 1.2 and 1.3 alone in a crafted ClientHello and "
                    "records which the server accepts.",
    )

    def judge_tls(self, target: Target, tls: TlsFacts, where: str) -> Iterator[Finding | Skip | Undetermined]:
        legacy = [v for v in tls.accepted if v in LEGACY]
        refused = {v.version for v in tls.versions if not v.accepted}
        untested = [v for v in LEGACY if v not in refused]
        if not legacy and (untested or not tls.accepted):
            # "Refuses TLS 1.0 and 1.1" needs both refusals recorded, from a server that accepts
            # some version (an empty record is not a refusal).
            yield self.undetermined(target, ErrorReason.PROTOCOL,
                                    f"{where}: not established: " + (f"no answer recorded for {', '.join(untested)}"
                                                                     if untested else "no version accepted"),
                                    evidence=[tls.evidence()])
            return
        if legacy:
            detail = f"{where} accepts {', '.join(legacy)}; all accepted: {', '.join(tls.accepted)}"
        else:
            detail = f"{where} refuses SSL 3.0, TLS 1.0 and TLS 1.1; accepts {', '.join(tls.accepted)}"
        yield self.finding(target, passed=not legacy, detail=detail, evidence=[tls.evidence()])
