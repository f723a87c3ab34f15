"""What may be scanned: targets, exclusions and the scope they resolve to (the guard is in ``guard``).

Targets are IP addresses, CIDRs, ranges (``198.18.0.1-50`` or ``198.18.0.1-198.18.0.50``),
hostnames and domains. ``--exclude`` entries take the same forms. Globally routable addresses
are refused unless ``allow_public`` is set: an MSP scans its client's LAN, and a typo in a
CIDR must not turn into a scan of someone else's network.

"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from scanner.errors import InputError
from scanner.scope.names import resolve_name

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A run may not expand to more addresses than this without saying so: a /8 typo stops here.
MAX_ADDRESSES = 65536


@dataclass(frozen=True)
class ScopeEntry:
    """One line of scope as the user wrote it, and the networks it stands for."""

    text: str
    networks: tuple[IPNetwork, ...]
    hostname: str | None = None
    # A CIDR the user wrote as a network: its network and broadcast addresses are not hosts.
    # Ranges are summarised into CIDR blocks too, but every address of a range is a target.
    written_as_network: bool = False


def _range_networks(start: IPAddress, end: IPAddress) -> tuple[IPNetwork, ...]:
    if start.version != end.version or int(end) < int(start):
        raise ValueError("range end comes before its start")
    return tuple(ipaddress.summarize_address_range(start, end))


def parse_entry(text: str) -> ScopeEntry:
    """Parse one target/exclusion. Raises ValueError with what was expected. A host name is
    returned unresolved (no networks): ``build_scope`` resolves it through the declared
    nameservers (``scanner.scope.names``)."""
    item = text.strip()
    if not item:
        raise ValueError("empty target")
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        pass
    else:
        return ScopeEntry(item, (network,), written_as_network="/" in item)
    if "-" in item:
        left, _, right = item.partition("-")
        try:
            start = ipaddress.ip_address(left.strip())
        except ValueError:
            start = None
        if start is not None:
            right = right.strip()
            if right.isdigit() and start.version == 4:
                last_octet = int(right)
                if not 0 <= last_octet <= 255:
                    raise ValueError(f"range end {right!r} is not an octet (0-255)")
                end: IPAddress = ipaddress.IPv4Address((int(start) & ~0xFF) | last_octet)
            else:
                try:
                    end = ipaddress.ip_address(right)
                except ValueError as exc:
                    raise ValueError(f"range end {right!r} is neither an address nor an octet") from exc
            return ScopeEntry(item, _range_networks(start, end))
    if not _looks_like_hostname(item):
        raise ValueError("expected an IP address, a CIDR, a range like 198.18.0.1-50, or a hostname")
    return ScopeEntry(item, (), hostname=item.lower().rstrip("."))


def _resolved(entry: ScopeEntry, nameservers: Sequence[str], names: dict[str, tuple[str, ...]]) -> ScopeEntry:
    """The entry with its host name's addresses (recorded in ``names``); addresses stay as they are."""
    if entry.hostname is None:
        return entry
    if entry.hostname not in names:
        names[entry.hostname] = tuple(str(a) for a in resolve_name(entry.hostname, nameservers))
    networks = tuple(ipaddress.ip_network(a) for a in names[entry.hostname])
    return replace(entry, networks=networks)


def _looks_like_hostname(text: str) -> bool:
    if len(text) > 253 or text.startswith(".") or ".." in text:
        return False
    labels = text.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c.isalnum() or c in "-_" for c in label)
        for label in labels
    ) and not text.replace(".", "").isdigit()


def is_public(address: IPAddress) -> bool:
    """Globally routable. Loopback, RFC 1918, 198.18.0.0/15 and documentation ranges are not."""
    return address.is_global


@dataclass
class Scope:
    """The resolved, authorized scope of one run."""

    targets: tuple[ScopeEntry, ...]
    exclusions: tuple[ScopeEntry, ...] = ()
    allow_public: bool = False
    # Infrastructure the scan must talk to without scanning it (the --nameserver given).
    infrastructure: tuple[IPAddress, ...] = ()
    # Host names the user wrote and the addresses the declared nameservers gave for them.
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _included: tuple[IPNetwork, ...] = field(init=False, default=())
    _excluded: tuple[IPNetwork, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        self._included = tuple(n for e in self.targets for n in e.networks)
        self._excluded = tuple(n for e in self.exclusions for n in e.networks)

    def contains(self, address: str | IPAddress) -> bool:
        """True when the address is in a target and in no exclusion."""
        try:
            addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        if any(addr in net for net in self._excluded):
            return False
        if not any(addr in net for net in self._included):
            return False
        return self.allow_public or not is_public(addr)

    def may_contact(self, address: str | IPAddress) -> bool:
        """Scope members plus declared infrastructure (nameservers)."""
        if self.contains(address):
            return True
        try:
            addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        return addr in self.infrastructure

    def addresses(self) -> Iterator[str]:
        """Every address in scope, in order, exclusions removed. The network and broadcast
        addresses of an IPv4 CIDR the user wrote (larger than a /31) are left out: nothing
        answers there. A range keeps every address it names."""
        seen: set[IPAddress] = set()
        for entry in self.targets:
            for net in entry.networks:
                yield from self._members(net, entry.written_as_network, seen)

    def _members(self, net: IPNetwork, written_as_network: bool, seen: set[IPAddress]) -> Iterator[str]:
        drop_edges = written_as_network and net.version == 4 and net.prefixlen < 31
        for raw in net.hosts() if drop_edges else iter(net):
            addr = ipaddress.ip_address(str(raw))
            if addr not in seen and self.contains(addr):
                seen.add(addr)
                yield str(addr)

    def size(self) -> int:
        return sum(n.num_addresses for n in self._included)


def build_scope(
    targets: Iterable[str],
    exclusions: Iterable[str] = (),
    *,
    allow_public: bool = False,
    nameservers: Iterable[str] = (),
    source: str = "command line",
    max_addresses: int = MAX_ADDRESSES,
) -> Scope:
    """Resolve what the user wrote into a Scope, refusing public and oversized scopes. Host names
    are resolved through ``nameservers`` only (refused without one) and recorded in ``Scope.names``."""
    nameservers = tuple(nameservers)
    names: dict[str, tuple[str, ...]] = {}
    entries: list[ScopeEntry] = []
    for text in targets:
        try:
            entries.append(_resolved(parse_entry(text), nameservers, names))
        except ValueError as exc:
            raise InputError(f"target {text!r}: {exc}", source=source) from exc
    excluded: list[ScopeEntry] = []
    for text in exclusions:
        try:
            excluded.append(_resolved(parse_entry(text), nameservers, names))
        except ValueError as exc:
            raise InputError(f"exclusion {text!r}: {exc}", source=source) from exc
    infra: list[IPAddress] = []
    for ns in nameservers:
        try:
            infra.append(ipaddress.ip_address(ns))
        except ValueError as exc:
            raise InputError(f"nameserver {ns!r} is not an IP address", source=source) from exc
        if is_public(infra[-1]) and not allow_public:
            raise InputError(
                f"nameserver {ns} is a public address; pass --allow-public if the client has "
                "authorized queries to it",
                source=source,
            )
    if not allow_public:
        for entry in entries:
            for net in entry.networks:
                if net.is_global or any(is_public(a) for a in (net[0], net[-1])):
                    raise InputError(
                        f"target {entry.text!r} ({net}) contains globally routable addresses. "
                        "gapscan scans a client's own networks; if the client has authorized a scan "
                        "of its public addresses, pass --allow-public",
                        source=source,
                    )
    scope = Scope(tuple(entries), tuple(excluded), allow_public, tuple(infra), names=names)
    if scope.size() > max_addresses:
        raise InputError(
            f"the targets cover {scope.size()} addresses, more than the limit of {max_addresses}; "
            "split the scan or narrow the CIDRs",
            source=source,
        )
    return scope
