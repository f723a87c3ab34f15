"""What discovery has established so far, kept where an interrupt cannot take it away.

``discover()`` returns its result only when every phase is over. A scan interrupted during
discovery (Ctrl-C, SIGTERM from a rescan unit, SIGHUP) must still save the hosts and services
found before the interrupt (issue 15: it saved 0 hosts), so the caller hands discovery a
``FoundSoFar`` and reads it when ``discover()`` does not return. Phases record into it as answers
come, some from worker threads (the TCP sweep), hence the lock.

Only positive answers are kept: a live host, an open port, an identified service. An address or
port not yet probed is simply absent, never reported closed; a port found open but not yet
identified is named by its port number alone (``identified_by="port-map"``, as with
``service_detection: none``). scan.json marks such a run: ``complete: false``, a warning that
discovery was interrupted, and this module's ``note()`` as the discovery notes. (No new field on
the discovery record: that would change the bytes, and so the digests, of every stored run.)
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass

from scanner.discovery.portmap import map_only
from scanner.models import Host, Service, Transport


def _address_key(address: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(address)
    return addr.version, int(addr)


@dataclass(frozen=True)
class FoundCounts:
    hosts: int
    services: int


class FoundSoFar:
    """Live hosts, open ports and identified services, recorded as discovery finds them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.phase = "starting"
        self.engine = "builtin"
        self._live: dict[str, str | None] = {}
        self._ports: dict[str, dict[tuple[Transport, int], Service]] = {}
        self._names: dict[str, tuple[str, ...]] = {}

    def entered(self, phase: str) -> None:
        self.phase = phase

    def hostnames(self, names: dict[str, tuple[str, ...]]) -> None:
        """The names the user gave for addresses (from the scope)."""
        with self._lock:
            self._names = dict(names)

    def host(self, address: str, discovered_by: str) -> None:
        """``address`` answered host discovery (arp, tcp-ping, icmp, nmap)."""
        with self._lock:
            self._live[address] = discovered_by

    def open_port(self, address: str, port: int) -> None:
        """A TCP port answered the sweep: open, not yet identified."""
        with self._lock:
            services = self._ports.setdefault(address, {})
            services.setdefault((Transport.TCP, port), map_only(port))

    def service(self, address: str, service: Service) -> None:
        """A port identified by what it speaks (replaces its port-number guess)."""
        with self._lock:
            self._ports.setdefault(address, {})[(service.transport, service.port)] = service

    def counts(self) -> FoundCounts:
        with self._lock:
            addresses = set(self._live) | set(self._ports)
            return FoundCounts(len(addresses), sum(len(p) for p in self._ports.values()))

    def hosts(self) -> tuple[Host, ...]:
        """Every host known live or with an open port, sorted like discovery's own result."""
        with self._lock:
            addresses = sorted(set(self._live) | set(self._ports), key=_address_key)
            return tuple(
                Host(address=a, hostnames=self._names.get(a, ()), discovered_by=self._live.get(a),
                     services=tuple(sorted(self._ports.get(a, {}).values(),
                                           key=lambda s: (0 if s.transport is Transport.TCP else 1, s.port))))
                for a in addresses)

    def host_discovery(self) -> str:
        """How the hosts saved were found (``arp+tcp-ping``), as far as discovery got."""
        with self._lock:
            return "+".join(sorted({by for by in self._live.values() if by})) or "none"

    def note(self) -> str:
        """The honest words for scan.json: what was saved, and what is not known."""
        counts = self.counts()
        return (f"discovery was interrupted during the {self.phase} phase: the {counts.hosts} host(s) and "
                f"{counts.services} open port(s) found until then are saved; addresses and ports not yet "
                "probed are unknown (not reported as closed), and ports not yet identified are named by "
                "their port number alone")
