"""How long to wait for a SYN's answer: round-trip estimates and the timeouts made from them.

The model is TCP's own retransmission timer (RFC 6298): a smoothed round-trip time (SRTT) and
its variation (RTTVAR) per host, updated from every handshake that answered unambiguously
(Karn's algorithm, §3: never from a retried probe), and a timeout of ``SRTT + 4 * RTTVAR``
(§2.3), doubled for each retry of the same probe (§5.5, exponential backoff).

Unlike TCP (whose RTO never goes below 1 s, §2.4, because a spurious retransmission costs a
connection), a sweep's timeout is clamped to ``[floor, ceiling]``: on a LAN the estimate is well
under a millisecond, and the floor (100 ms, the ``--min-rtt-timeout`` of nmap's -T4) keeps a
busy host's late SYN-ACK from being read as silence; the ceiling (the profile's
``connect_timeout``) is what a slow WAN target gets. A host that has not answered yet borrows
the estimate of the hosts that have (or of its ARP/ping answer); with nothing measured at all the
timeout is RFC 6298's initial 1 s.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 6298 §2.1: the RTO before any measurement.
INITIAL_TIMEOUT = 1.0
# Lowest timeout for one attempt (nmap -T4's min-rtt-timeout).
TIMEOUT_FLOOR = 0.1
# §2: clock granularity G in RTO = SRTT + max(G, K * RTTVAR).
_GRANULARITY = 0.001


class RttEstimator:
    """Smoothed round-trip time and its variation (RFC 6298 §2.2-2.3)."""

    __slots__ = ("rttvar", "samples", "srtt")

    def __init__(self) -> None:
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.samples = 0

    def add(self, rtt: float) -> None:
        rtt = max(0.0, rtt)
        self.samples += 1
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
            return
        self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
        self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def rto(self) -> float | None:
        """SRTT + max(G, 4 * RTTVAR), or None before the first sample."""
        if self.srtt is None:
            return None
        return self.srtt + max(_GRANULARITY, 4 * self.rttvar)


@dataclass(frozen=True)
class TimeoutPolicy:
    """Per-attempt timeouts from RTT estimates, clamped to ``[floor, ceiling]``."""

    ceiling: float
    floor: float = TIMEOUT_FLOOR
    initial: float = INITIAL_TIMEOUT

    def base(self, own: RttEstimator | None, fallback: RttEstimator | None = None) -> float:
        """The first attempt's timeout for a host: its own RTO, else the fallback's, else initial."""
        rto = own.rto() if own is not None else None
        if rto is None and fallback is not None:
            rto = fallback.rto()
        if rto is None:
            rto = self.initial
        return min(self.ceiling, max(self.floor, rto))

    def attempt(self, base: float, retry: int) -> float:
        """The timeout of retry number ``retry`` (0: the first attempt): doubled each time (§5.5)."""
        return min(self.ceiling, base * (2 ** max(0, retry)))
