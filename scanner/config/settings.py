"""Settings models that profiles are made of (validated on load; unknown keys are errors).

``TimeoutConfig`` lives in the SDK (``scanner.check``): a probe receives it in its ``ProbeContext``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scanner.config.ports import default_tcp_ports


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
    # nmap's top 1,000 TCP ports plus the ports the checks need (scanner.config.ports).
    tcp_ports: tuple[int, ...] = Field(default_factory=default_tcp_ports)
    udp_ports: tuple[int, ...] = ()
    # The longest one connect attempt may wait: the ceiling of the RTT-adaptive timeouts
    # (scanner.discovery.rtt), what a slow WAN host gets; a LAN's filtered port costs ~100 ms.
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    # Further attempts of a port that stayed silent, only where they can change the answer
    # (scanner.discovery.tcp_sweep).
    retries: int = Field(default=2, ge=0, le=10)
    # "syn": half-open probes through a raw socket (root); "connect": a full handshake per port;
    # "auto": SYN for IPv4 when raw sockets are permitted, connect otherwise.
    sweep: Literal["auto", "syn", "connect"] = "auto"
    sweep_concurrency: int = Field(default=256, ge=1, le=8192)
    # Most probes in flight to one host during the sweep: it starts at concurrency.per_host and
    # grows with clean answers up to this (slow start, RFC 5681), halving when a SYN was lost.
    sweep_window: int = Field(default=64, ge=1, le=1024)
