"""rdp.nla_not_required — RDP accepts Standard RDP Security or TLS without CredSSP (NLA).

Network Level Authentication makes the client authenticate (CredSSP, [MS-CSSP]) before the
server builds a session and draws a logon screen. The probe (negotiation.py) offers PROTOCOL_RDP
only, PROTOCOL_SSL only, and SSL|HYBRID|HYBRID_EX, each in its own X.224 Connection Request, and
hangs up after each Connection Confirm: nothing is authenticated. FAIL when either of the first
two is accepted; PASS when both are refused and the full offer selects HYBRID (NLA).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.rdp.negotiation import PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX, PROTOCOL_SSL, RdpFacts, RdpNegotiation
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Target


class RdpNlaNotRequired(SingleProbeCheck[RdpFacts]):
    meta = CheckMeta(
        id="rdp.nla_not_required",
        title="RDP does not require Network Level Authentication",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"rdp"})),
        why=(
            "Remote Desktop shows its logon screen to anyone before they prove who they are. That makes password "
            "guessing and known Remote Desktop attacks easier, and the oldest setting also protects the session "
            "with weak, outdated encryption."
        ),
        remediation=(
            "Require NLA (Windows: System Properties > Remote > 'Allow connections only from computers running "
            "Remote Desktop with Network Level Authentication', or GPO 'Require user authentication for remote "
            "connections by using NLA'; set the security layer to SSL/TLS) and keep RDP off the Internet (VPN/RD "
            "Gateway with MFA)."
        ),
        description="Three RDP negotiation requests (RDP only, TLS only, with CredSSP); no authentication.",
    )
    probe = RdpNegotiation

    def judge(self, target: Target, rdp: RdpFacts) -> Iterator[Finding]:
        where = f"RDP {target.host_port()}"
        weak = []
        if rdp.rdp_only.accepted:
            weak.append("Standard RDP Security (no TLS, no NLA)")
        if rdp.tls_only.accepted and rdp.tls_only.selected == PROTOCOL_SSL:
            weak.append("TLS without CredSSP")
        nla = rdp.full_offer.accepted and rdp.full_offer.selected in (PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX)
        if weak:
            yield self.finding(target, passed=False, evidence=[rdp.evidence()],
                               detail=f"{where} accepts {' and '.join(weak)}; full offer {rdp.full_offer.text()}")
        elif nla:
            yield self.finding(target, passed=True, evidence=[rdp.evidence()],
                               detail=f"{where} refuses RDP-only ({rdp.rdp_only.failure}) and TLS-only "
                                      f"({rdp.tls_only.failure}) and {rdp.full_offer.text()}")
        else:
            yield self.finding(target, passed=False, evidence=[rdp.evidence()],
                               detail=f"{where} refuses the legacy offers but did not select NLA either "
                                      f"({rdp.full_offer.text()})")
