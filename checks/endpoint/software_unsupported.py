"""endpoint.software_unsupported — practice software or its database past the vendor's end of support.

Software its vendor no longer patches is a known, unreduced risk (45 CFR 164.308(a)(1)(ii)(B));
OCR has settled with a practice that kept an outdated practice-management system. The installed
programs (dpkg, rpm, /Applications, Windows Uninstall keys) are also handed to the report as the
device's software list (``Finding.software``). Dates come from ``data/software_eol.yaml`` where
the vendor publishes them, compared with the day of collection; a program listed there without a
published date is named in the detail and not judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import InstalledSoftware, Severity, Target

from . import software as sw
from .base import EndpointCheck, Item
from .inventory import EndpointInventory, Software, evidence_of
from .probe import EndpointFacts


class SoftwareUnsupported(EndpointCheck[Software]):
    meta = CheckMeta(
        id="endpoint.software_unsupported",
        title="Practice software past vendor end of support",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "Software on this computer, such as the practice-management system or the database it keeps records in, "
            "no longer receives security fixes from its maker. Its known flaws stay open for good."
        ),
        remediation=(
            "Upgrade to a version the vendor supports (plan it with the practice-software vendor: database "
            "upgrades often come with the application's), or isolate the machine and record the risk and the "
            "upgrade date in the risk analysis."
        ),
        description="Installed programs compared with vendors' published end-of-support dates.",
    )
    section = "software"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      soft: Software) -> Iterator[Item]:
        today = min((o.collected_at for o in soft.observations), default=inv.collected_at).date()
        verdicts = [v for v in (sw.support_of(i, today) for i in soft.items) if v is not None]
        listed = [InstalledSoftware(name=i.name, version=i.version, source=i.source) for i in soft.items]
        ev = [evidence_of("endpoint-software", f"{len(soft.items)} installed programs"
                          + (" (list truncated)" if soft.truncated else ""), soft.observations, inv.collected_by)]
        judged = [v for v in verdicts if v.supported is not None]
        unsupported = [v for v in judged if not v.supported]
        unjudged = [v for v in verdicts if v.supported is None]
        notes = "; ".join(f"{v.item.name} {v.item.version}: {v.detail}" for v in unjudged[:5])
        for v in judged:
            ev.append(evidence_of("endpoint-software-support", f"{v.item.name} {v.item.version}: {v.detail}",
                                  (), f"{inv.collected_by}; dates: {v.source}"))
        if unsupported:
            text = "; ".join(f"{v.item.name} {v.item.version} — {v.detail}" for v in unsupported)
            yield self.finding(target, passed=False, evidence=ev, software=listed,
                               detail=f"{ep.host}: unsupported: {text}" + (f"; not judged: {notes}" if notes else ""))
            return
        text = "; ".join(f"{v.item.name} {v.item.version} — {v.detail}" for v in judged) or \
            "no program with published vendor end-of-support dates found"
        yield self.finding(target, passed=True, evidence=ev, software=listed,
                           detail=f"{ep.host}: {len(soft.items)} programs read; {text}"
                                  + (f"; not judged (no published dates): {notes}" if notes else ""))
