"""endpoint.firewall_off — the host firewall is off (or lets everything in).

A host firewall limits who can reach services on a machine holding ePHI: access control
(164.312(a)(1)) and a reasonable risk-management measure (164.308(a)(1)(ii)(B)). On Windows every
profile (Domain, Private, Public) must be on: a laptop moves between them.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import ErrorReason, Severity, Target

from .base import EndpointCheck, Item
from .inventory import EndpointInventory, Firewall, evidence_of
from .probe import EndpointFacts


class FirewallOff(EndpointCheck[Firewall]):
    meta = CheckMeta(
        id="endpoint.firewall_off",
        title="Host firewall is off",
        severity=Severity.MEDIUM,
        applies_to=Applies(hosts=True),
        why=(
            "With the machine's own firewall off, every service on it can be reached by any device on the network, "
            "including an infected one. It is a basic protection a risk assessment expects."
        ),
        remediation=(
            "Turn the host firewall on with inbound traffic denied by default: Windows Defender Firewall on "
            "for the Domain, Private and Public profiles (Group Policy); macOS Application Firewall (System "
            "Settings > Network > Firewall); Linux nftables/ufw/firewalld with an input policy of drop."
        ),
        description="Reads the firewall state (nft/ufw/firewalld, socketfilterfw, firewall profiles in the registry).",
    )
    section = "firewall"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      fw: Firewall) -> Iterator[Item]:
        ev = evidence_of("endpoint-firewall", fw.detail or f"enabled={fw.enabled}", fw.observations,
                         inv.collected_by)
        if fw.enabled is None:
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{ep.host}: firewall state not reported — "
                                    f"{fw.detail or 'no reading'}", evidence=[ev])
            return
        state = "on" if fw.enabled else "OFF"
        yield self.finding(target, passed=bool(fw.enabled), evidence=[ev],
                           detail=f"{ep.host}: host firewall {state} — {fw.detail}")
