"""endpoint.os_unsupported — the operating system no longer receives security updates.

Unpatchable systems are a known risk the risk analysis must list and risk management reduce
(164.308(a)(1)(ii)(A)/(B)). Dates come from ``data/os_eol.yaml`` (vendor lifecycle pages, compiled
on the date it says); a release the table does not know is ``error``, never assumed supported.
The date judged against is the collection's (when the release was read), not today's.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import ErrorReason, Severity, Target

from . import eol
from .base import EndpointCheck, Item
from .inventory import EndpointInventory, OsInfo, evidence_of
from .probe import EndpointFacts


class OsUnsupported(EndpointCheck[OsInfo]):
    meta = CheckMeta(
        id="endpoint.os_unsupported",
        title="Operating system past end of support",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "The vendor no longer fixes security flaws in this operating system, so every new weakness stays open "
            "for good. Such machines must be upgraded, or isolated and listed as a known risk."
        ),
        remediation=(
            "Upgrade to a release the vendor still patches (or, where a paid extended-support program is "
            "bought, record the contract in the risk analysis); isolate machines that cannot be upgraded."
        ),
        description="Compares the OS release read from the endpoint with the vendors' published end-of-support dates.",
    )
    section = "os"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      osinfo: OsInfo) -> Iterator[Item]:
        # Judged on the day the release was read (the evidence's time), never on the day of judging:
        # a saved collection judged again later must give the same answer.
        read_at = min((o.collected_at for o in osinfo.observations), default=inv.collected_at)
        status = eol.support_status(osinfo, read_at.date())
        build = f" (build {osinfo.build})" if osinfo.build else ""
        ev = evidence_of("endpoint-os", f"{osinfo.name}{build}", osinfo.observations, inv.collected_by)
        text = f"{ep.host}: {osinfo.name}{build} — {status.detail}"
        if status.supported is None:
            yield self.undetermined(target, ErrorReason.PROTOCOL, text, evidence=[ev])
        else:
            yield self.finding(target, passed=status.supported, evidence=[ev], detail=text)
