"""Settings models that profiles are made of (validated on load; unknown keys are errors).

``TimeoutConfig`` lives in the SDK (``scanner.check``): a probe receives it in its ``ProbeContext``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The ports a practice network is swept on by default: the services the checks know how to
# judge, plus the usual suspects on clinical networks. Kept short: fragile devices.
DEFAULT_TCP_PORTS: tuple[int, ...] = (
    21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636, 993, 995,
    1433, 2049, 3306, 3389, 5432, 5900, 8080, 8443, 17500, 22000,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConcurrencyConfig(Strict):
    """Clinical networks hold fragile devices: the per-host default is small on purpose."""

    global_limit: int = Field(default=64, ge=1, le=4096)
    per_host: int = Field(default=4, ge=1, le=256)


class DiscoveryConfig(Strict):
    """How hosts and services are found."""

    host_discovery: Literal["auto", "arp", "tcp", "none"] = "auto"
    engine: Literal["auto", "builtin", "nmap"] = "auto"
    service_detection: Literal["banner", "nmap", "none"] = "banner"
    tcp_ports: tuple[int, ...] = DEFAULT_TCP_PORTS
    udp_ports: tuple[int, ...] = ()
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)
    sweep_concurrency: int = Field(default=256, ge=1, le=8192)
