"""The risk rating of a finding on its asset: likelihood x impact on the five-level scale of
NIST SP 800-30 Rev. 1 (Appendix G, likelihood; Appendix H, impact; Table I-2, the level of risk
from the two), as NIST SP 800-66r2 section 3 (the risk assessment of the Security Rule's
164.308(a)(1)(ii)(A)) asks for each threat and vulnerability to ePHI.

Every input is kept with the rating (``Rating.inputs``) so a technician can challenge it, and a
client-file override (``ClientFile.risk_overrides``) replaces likelihood or impact with its reason
printed beside it. Checks state facts and severity; risk is computed here, never in a check
(docs/design.md). Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.assets import AssetView
from reports.client_file import ClientFile
from reports.project_data import EXPLOIT_WORDS, CheckPlace, Exploit
from scanner.models import Severity

LEVELS = ("very low", "low", "moderate", "high", "very high")  # 1..5
LEVEL_OF = {"very-low": 1, "low": 2, "moderate": 3, "high": 4, "very-high": 5}

# NIST SP 800-30 Rev. 1, Table I-2 "Assessment scale - level of risk (combination of likelihood and
# impact)": RISK[likelihood - 1][impact - 1].
RISK = (
    (1, 1, 2, 2, 2),  # likelihood very low
    (1, 2, 2, 2, 3),  # low
    (1, 2, 3, 3, 4),  # moderate
    (1, 2, 3, 4, 5),  # high
    (1, 2, 3, 4, 5),  # very high
)

# Likelihood before exposure: what an attacker needs (reports/data/projects.yaml, ``exploit``).
BASE_LIKELIHOOD = {Exploit.ANYONE: 4, Exploit.EAVESDROP: 3, Exploit.CREDENTIALS: 3, Exploit.DEVICE_LOSS: 2,
                   Exploit.HYGIENE: 1}
# Impact from the asset: whether it holds ePHI (164.308(a)(1)(ii)(A): "where ePHI lives").
EPHI_IMPACT = {"yes": 4, "unknown": 3, "no": 2}


def level_name(level: int) -> str:
    return LEVELS[level - 1]


@dataclass(frozen=True)
class RiskInput:
    """One input of a rating, in words: what it is, its value, and what it did."""

    factor: str  # "exploit", "exposure", "ePHI", ...
    value: str
    effect: str  # "likelihood high", "+1 impact", "impact set to low (override)"


@dataclass(frozen=True)
class Rating:
    likelihood: int  # 1..5
    impact: int  # 1..5
    inputs: tuple[RiskInput, ...]
    override: str | None = None  # the reason of the client-file override applied, if any

    @property
    def level(self) -> int:
        return RISK[self.likelihood - 1][self.impact - 1]

    @property
    def name(self) -> str:
        return level_name(self.level)

    @property
    def css(self) -> str:
        return self.name.replace(" ", "-")

    @property
    def score(self) -> int:
        """Likelihood x impact (1..25): orders ratings of the same level."""
        return self.likelihood * self.impact

    def key(self) -> tuple[int, int]:
        return self.level, self.score

    def summary(self) -> str:
        return f"{self.name} (likelihood {level_name(self.likelihood)} x impact {level_name(self.impact)})"


def _clamp(value: int) -> int:
    return max(1, min(5, value))


def rate(check_id: str, project_id: str, place: CheckPlace | None, severity: Severity, asset: AssetView | None,
         client: ClientFile | None = None) -> Rating:
    """Likelihood from the gap (what an attacker needs, where it can be reached from), impact from
    the asset (ePHI, criticality) and the gap (takeover, the finding's severity)."""
    exploit = place.exploit if place is not None else Exploit.CREDENTIALS
    inputs = [RiskInput("what an attacker needs", EXPLOIT_WORDS[exploit],
                        f"likelihood starts {level_name(BASE_LIKELIHOOD[exploit])}")]
    likelihood = BASE_LIKELIHOOD[exploit]
    if asset is not None and asset.internet_facing:
        likelihood += 1
        why = "public DNS record" if asset.kind == "domain" else "inventory: reachable from the Internet"
        inputs.append(RiskInput("exposure", f"Internet ({why})", "+1 likelihood"))
    else:
        inputs.append(RiskInput("exposure", "practice network (LAN) only", "no change"))
    if exploit is Exploit.DEVICE_LOSS and asset is not None and asset.portable:
        likelihood += 2
        inputs.append(RiskInput("leaves the office", "yes (inventory)", "+2 likelihood"))

    ephi = asset.ephi if asset is not None else "unknown"
    impact = EPHI_IMPACT[ephi]
    source = "inventory" if asset is not None and asset.known else "not in the inventory"
    inputs.append(RiskInput("holds ePHI", f"{ephi} ({source})", f"impact starts {level_name(impact)}"))
    criticality = asset.criticality if asset is not None else "normal"
    if criticality != "normal":
        impact += 1 if criticality == "high" else -1
        inputs.append(RiskInput("criticality", f"{criticality} (inventory)", "+1 impact" if criticality == "high"
                                else "-1 impact"))
    if place is not None and place.takeover:
        impact += 1
        inputs.append(RiskInput("takeover", "the gap hands over the whole device or service", "+1 impact"))
    if severity is Severity.CRITICAL:
        impact += 1
        inputs.append(RiskInput("severity", "critical (the check's judgement of this finding)", "+1 impact"))
    elif severity in (Severity.LOW, Severity.INFO):
        impact -= 1
        inputs.append(RiskInput("severity", f"{severity.value} (the check's judgement of this finding)",
                                "-1 impact"))
    likelihood, impact = _clamp(likelihood), _clamp(impact)

    reason = None
    for override in client.risk_overrides if client else ():
        address = asset.key if asset is not None and asset.kind == "device" else None
        names = (asset.key,) if asset is not None and asset.kind == "domain" else (asset.learned if asset else ())
        if override.applies(check_id, project_id, address, names):
            if override.likelihood is not None:
                likelihood = LEVEL_OF[override.likelihood]
                inputs.append(RiskInput("override", override.reason,
                                        f"likelihood set to {level_name(likelihood)} (client file)"))
            if override.impact is not None:
                impact = LEVEL_OF[override.impact]
                inputs.append(RiskInput("override", override.reason, f"impact set to {level_name(impact)} "
                                                                     "(client file)"))
            reason = override.reason
            break
    return Rating(likelihood, impact, tuple(inputs), reason)


METHOD = (
    "Each finding is rated where it was found, on the five-level scale of NIST SP 800-30 Rev. 1 (very low, low, "
    "moderate, high, very high), as NIST SP 800-66r2 section 3 describes the risk assessment the Security Rule "
    "requires (45 CFR 164.308(a)(1)(ii)(A)). Likelihood starts from what an attacker needs to use the gap "
    "(anyone with no password: high; someone watching the traffic, or holding a password: moderate; the device "
    "in hand: low; another failure first: very low), one level up when the place is reachable from the Internet "
    "(public DNS records always are; a device when the asset inventory says so) and two levels up for a "
    "device-loss gap on a device that leaves the office. Impact starts from the asset: holds ePHI high, unknown "
    "moderate, no ePHI low; one level up for a critical asset, a gap that hands over the whole device, or a "
    "finding the check judged critical; one level down for a low-criticality asset or a low-severity finding. "
    "The level of risk is read from NIST SP 800-30 Rev. 1 Table I-2; projects take the highest rating of their "
    "findings and are ranked by it (then by likelihood x impact), not by how many places a finding was seen at. "
    "A technician may override likelihood or impact in the client file; the reason is printed with the rating."
)
