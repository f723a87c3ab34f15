"""smb.signing_not_required — an SMB server that does not require message signing.

Without signing, anyone on the LAN path can alter SMB traffic undetected or relay a user's NTLM
logon to the server (MS-SMB2 3.3.5.4 SecurityMode). For ePHI on file shares that is a gap
against the integrity safeguards 164.312(c)(1) and 164.312(e)(2)(i) (mapping in
profiles/frameworks). Judged from the server's SecurityMode for SMB2/3 (≤ 3.0.2 first, the raw
3.1.1 bit otherwise) and, when SMB1 is accepted, from the SMB1 SecurityMode as well.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.smb.probe import SmbNegotiate, SmbNegotiateFacts
from checks.smb.wire import NegotiateReply
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined


def _state(reply: NegotiateReply) -> str:
    if reply.signing_required:
        return "required"
    return "enabled but not required" if reply.signing_enabled else "disabled"


class SmbSigningNotRequired(SingleProbeCheck[SmbNegotiateFacts]):
    meta = CheckMeta(
        id="smb.signing_not_required",
        title="SMB signing is not required",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smb"})),
        intrusive=False,
        why=(
            "File-share traffic can be altered or relayed by someone on the network, which lets an attacker pose as "
            "a user and reach shared files."
        ),
        remediation=(
            "Require SMB signing on the server (Samba: 'server signing = mandatory'; Windows: Group Policy "
            "'Microsoft network server: Digitally sign communications (always)' = Enabled, or "
            "Set-SmbServerConfiguration -RequireSecuritySignature $true) and disable SMB1."
        ),
        description="Reads the SecurityMode of the server's SMB2/3 and SMB1 NEGOTIATE replies.",
    )
    probe = SmbNegotiate

    def judge(self, target: Target, neg: SmbNegotiateFacts) -> Iterator[Finding | Skip | Undetermined]:
        where = target.host_port()
        parts: list[str] = []
        policies: list[bool] = []  # one per accepted dialect family: required or not
        policy = neg.smb2_policy
        if policy is not None:
            parts.append(f"SMB {policy.dialect}: signing {_state(policy)}")
            policies.append(bool(policy.signing_required))
        if neg.smb1_accepted:
            parts.append(f"SMB1 (NT LM 0.12): signing {_state(neg.smb1)}")
            policies.append(bool(neg.smb1.signing_required))
        if not policies:
            # No dialect accepted: no SecurityMode was read, so there is no policy to judge.
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=[neg.evidence()],
                                    detail=f"{where}: no SMB dialect was accepted; the signing policy is unknown")
            return
        detail = f"{where}: " + "; ".join(parts)
        yield self.finding(target, passed=all(policies), detail=detail, evidence=[neg.evidence()])
