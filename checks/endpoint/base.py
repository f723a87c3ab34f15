"""What every endpoint check does before judging: no credentials → skipped, a refused host key
or an unreadable section → ``error`` with the reason (never PASS)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import ClassVar, Generic, TypeVar

from scanner.check import SingleProbeCheck
from scanner.models import ErrorReason, Finding, Skip, SkipReason, Target, Undetermined

from .inventory import EndpointInventory, evidence_of
from .probe import EndpointCollector, EndpointFacts

Item = Finding | Skip | Undetermined
SectionT = TypeVar("SectionT")


def reason_for(why: str) -> ErrorReason:
    """The error reason a missing section stands for, from the collector's words."""
    text = why.lower()
    if "sudo" in text or "needs root" in text or "permission denied" in text or "access denied" in text:
        return ErrorReason.PERMISSION
    if "not found" in text or "not installed" in text:
        return ErrorReason.MISSING_DEPENDENCY
    if "did not finish" in text or "timed out" in text:
        return ErrorReason.TIMEOUT
    return ErrorReason.PROTOCOL


class EndpointCheck(SingleProbeCheck[EndpointFacts], Generic[SectionT]):
    """A check of one section of the endpoint inventory (``section``: "disk", "firewall", ...).

    Subclasses set ``section`` and implement ``judge_section``, which receives the section's
    value (``SectionT``) only when it was collected and could be read."""

    section: ClassVar[str]
    probe = EndpointCollector

    def judge(self, target: Target, ep: EndpointFacts) -> Iterator[Item]:
        if ep.no_credentials:
            yield self.skip(target, SkipReason.NO_CREDENTIALS, ep.no_credentials)
            return
        if ep.refused or ep.inventory is None:
            yield self.undetermined(target, ErrorReason.HOST_KEY_REFUSED,
                                    f"{ep.refused or 'nothing collected'}; nothing on this endpoint was judged")
            return
        inv = ep.inventory
        value = getattr(inv, self.section)
        if value is None:
            why = inv.why_missing(self.section)
            yield self.undetermined(target, reason_for(why),
                                    f"could not read this on {ep.host} ({ep.credential}): {why}")
            return
        unknown = getattr(value, "unknown", None)
        if unknown:
            evidence = getattr(value, "observations", ())
            yield self.undetermined(target, reason_for(unknown),
                                    f"could not judge this on {ep.host} ({ep.credential}): {unknown}",
                                    evidence=[evidence_of(f"endpoint-{self.section}", "undetermined", evidence,
                                                          inv.collected_by)])
            return
        yield from self.judge_section(target, ep, inv, value)

    @abstractmethod
    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      value: SectionT) -> Iterator[Item]:
        """Judge the section's value; no I/O."""
