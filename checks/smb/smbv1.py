"""smb.v1_enabled — the server accepts an SMB1 (NT LM 0.12) NEGOTIATE.

SMB1 is the protocol of the wormable EternalBlue family (MS17-010, CVE-2017-0144) that carried
WannaCry and NotPetya through hospitals; Microsoft has deprecated it. Leaving it on is an
unmitigated, reasonably anticipated threat: a gap against risk management 164.308(a)(1)(ii)(B)
and protection from malicious software 164.308(a)(5)(ii)(B) (mapping in profiles/frameworks).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.smb.probe import SmbNegotiate, SmbNegotiateFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined


class SmbV1Enabled(SingleProbeCheck[SmbNegotiateFacts]):
    meta = CheckMeta(
        id="smb.v1_enabled",
        title="SMBv1 (NT LM 0.12) is enabled",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smb"})),
        intrusive=False,
        why=(
            "The server still speaks SMBv1, the decades-old file-sharing protocol exploited by WannaCry and other "
            "ransomware that spread through clinics and hospitals."
        ),
        remediation=(
            "Disable SMB1 on the server (Samba: 'server min protocol = SMB2_10' or higher; Windows: "
            "Set-SmbServerConfiguration -EnableSMB1Protocol $false, or remove the SMB 1.0/CIFS feature) and "
            "replace devices that only speak SMB1 (old scanners, NAS) or move them to an isolated network."
        ),
        description="Offers only the SMB1 dialect NT LM 0.12 in a NEGOTIATE and reads whether the server accepts it.",
    )
    probe = SmbNegotiate

    def judge(self, target: Target, neg: SmbNegotiateFacts) -> Iterator[Finding | Skip | Undetermined]:
        where = target.host_port()
        if neg.smb1_accepted:
            mode = f"{neg.smb1.security_mode:#04x}" if neg.smb1.security_mode is not None else "not read"
            detail = f"{where}: SMB1 dialect NT LM 0.12 accepted (SecurityMode {mode})"
        elif not neg.smb1.refusal or not neg.accepted_dialects:
            # "SMB1 refused" needs the server's refusal of it, from a server that speaks SMB at all.
            yield self.undetermined(target, ErrorReason.PROTOCOL,
                                    f"{where}: neither an SMB1 acceptance nor a refusal by an SMB server was recorded",
                                    evidence=[neg.evidence()])
            return
        else:
            detail = f"{where}: SMB1 refused ({neg.smb1.refusal}); accepts {', '.join(neg.accepted_dialects)}"
        yield self.finding(target, passed=not neg.smb1_accepted, detail=detail, evidence=[neg.evidence()])
