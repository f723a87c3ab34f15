"""What the three TLS checks share: the services they apply to and the "no TLS here" skip."""

from __future__ import annotations

from checks.tls.probe import TLS_SERVICES, TlsFacts
from scanner.check import Applies
from scanner.models import Skip, SkipReason, Target

APPLIES = Applies(services=TLS_SERVICES)


def unavailable_skip(target: Target, tls: TlsFacts) -> Skip | None:
    """A plaintext service that does not offer its TLS upgrade: the cleartext checks own that gap."""
    if tls.available:
        return None
    return Skip(target=target, reason=SkipReason.NOT_APPLICABLE,
                detail=f"{target.host}:{target.port} {tls.mode}: TLS not available ({tls.unavailable})")
