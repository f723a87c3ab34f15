"""What the three TLS checks share: the services they apply to, and the "no TLS here" skip."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator

from checks.tls.probe import TLS_SERVICES, TlsFacts, TlsProbe
from scanner.check import Applies, SingleProbeCheck
from scanner.models import Finding, Skip, SkipReason, Target, Undetermined

APPLIES = Applies(services=TLS_SERVICES)


class TlsCheck(SingleProbeCheck[TlsFacts]):
    """A check of the TLS a service speaks. A plaintext service that does not offer its TLS
    upgrade is skipped: the cleartext checks own that gap. Subclasses implement ``judge_tls``."""

    probe = TlsProbe

    def judge(self, target: Target, tls: TlsFacts) -> Iterator[Finding | Skip | Undetermined]:
        if not tls.available:
            yield self.skip(target, SkipReason.NOT_APPLICABLE,
                            f"{target.host_port()} {tls.mode}: TLS not available ({tls.unavailable})")
            return
        yield from self.judge_tls(target, tls, f"{target.host_port()} ({tls.mode})")

    @abstractmethod
    def judge_tls(self, target: Target, tls: TlsFacts, where: str) -> Iterator[Finding | Skip | Undetermined]:
        """``where`` names the service as every detail does: "198.18.0.30:443 (implicit)"."""
