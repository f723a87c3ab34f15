"""One passive listening window per scan for LAN-sync discovery traffic.

Syncthing local discovery (UDP 21027; IPv4 broadcast, IPv6 multicast ff12::8384): a 4-byte magic
0x2EA7D90B then a protobuf ``Announce {bytes id = 1; repeated string addresses = 2; int64
instance_id = 3}`` (Syncthing's "Local Discovery Protocol v4" page). Dropbox LAN sync (UDP
17500): a JSON object with host_int, version, displayname, port and namespaces. Resilio Sync: UDP
datagrams to the multicast group 239.192.0.0 port 3838, its documented LAN peer discovery
("What ports and protocols are used by Sync", help.resilio.com); the payload format is not
published, so it is not decoded: only the destination identifies it.

Listening sends nothing: a cooked AF_PACKET socket (root or CAP_NET_RAW) sees every datagram on
the scanner's interfaces for the window; without the privilege the facts say so and the checks
skip with reason ``permission``. Hostile payloads (garbage, wrong magic, oversized) are counted
as ignored, never parsed further. The capture runs once per scan run (``shared_capture``), however
many targets ask for it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from scanner.check import Probe, ProbeContext, ScopeView
from scanner.errors import ProbeError, ProbeTimeout
from scanner.models import ErrorReason, Evidence, Target, utcnow

from .wire import AnnouncementError, Datagram, parse_dropbox, parse_ip_udp, parse_syncthing, short_device_id

SYNCTHING_PORT = 21027
DROPBOX_PORT = 17500
RESILIO_PORT = 3838
RESILIO_GROUP = "239.192.0.0"
LISTEN_PORTS = (SYNCTHING_PORT, DROPBOX_PORT, RESILIO_PORT)
# Discovery's names for the clients' TCP sync ports (scanner/discovery/identify.py): their targets need the
# capture too, to know whether the host was already reported for announcing.
SYNC_PORT_SERVICES = frozenset({"syncthing", "dropbox"})
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
# Syncthing announces every 30 s (a constant in its source), the Dropbox client about every 30 s:
# silence in a shorter window proves nothing.
ANNOUNCE_INTERVAL = 30.0


@dataclass(frozen=True)
class Heard:
    """One sender of one kind, aggregated over the window."""

    kind: str  # "syncthing" | "dropbox" | "resilio"
    sender: str
    count: int
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LanSyncFacts:
    window_s: float  # effective listening window (0: not listened)
    requested_s: float
    denied: str = ""  # why listening was impossible (no CAP_NET_RAW), "" when it ran
    heard: tuple[Heard, ...] = ()
    ignored: int = 0  # datagrams on the discovery ports that did not parse
    out_of_scope: int = 0  # announcements from senders outside the authorized scope (not reported)

    def of(self, kind: str) -> tuple[Heard, ...]:
        return tuple(h for h in self.heard if h.kind == kind)

    def evidence(self, kind: str, sender: Heard | None = None) -> Evidence:
        data: dict[str, Any] = {"window_s": self.window_s, "ignored_datagrams": self.ignored,
                                "out_of_scope_senders": self.out_of_scope}
        if sender is not None:
            data.update(sender=sender.sender, announcements=sender.count, **sender.summary)
            summary = f"{sender.count} {kind} announcement(s) from {sender.sender}"
        else:
            summary = f"no {kind} announcement in {self.window_s:.0f} s"
        where = {"syncthing": f"UDP {SYNCTHING_PORT}", "dropbox": f"UDP {DROPBOX_PORT}",
                 "resilio": f"UDP {RESILIO_GROUP}:{RESILIO_PORT}"}[kind]
        return Evidence(kind="passive-capture", summary=summary, data=data, collected_at=utcnow(),
                        method=f"passive listen on {where} (AF_PACKET, nothing sent) for {self.window_s:.0f} s")


def _in_scope(address: str, scope: ScopeView | None) -> bool:
    if scope is None:
        return True
    try:
        return scope.contains(str(ipaddress.ip_address(address)))
    except ValueError:
        return False


def _classify(dst: str, port: int, payload: bytes) -> tuple[str, dict[str, Any]] | None:
    """(kind, summary) of one datagram, None when it is not on a discovery port. AnnouncementError
    when it is on one but malformed."""
    if port == SYNCTHING_PORT:
        device, addresses = parse_syncthing(payload)
        return "syncthing", {"device_id_short": short_device_id(device), "addresses": list(addresses[:8])}
    if port == DROPBOX_PORT:
        ann = parse_dropbox(payload)
        return "dropbox", {"displayname": ann.displayname, "version": ann.version, "port": ann.port,
                           "host_int_hash": ann.host_hash, "namespace_count": ann.namespace_count,
                           "namespaces_hash": ann.namespaces_hash}
    if port == RESILIO_PORT and dst == RESILIO_GROUP:
        # Not decoded (no published format): the documented group and port are the whole signature.
        return "resilio", {"group": f"{RESILIO_GROUP}:{RESILIO_PORT}", "payload_decoded": False,
                           "largest_datagram": len(payload)}
    return None


def _attribute_ipv6(items: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Syncthing also announces over IPv6 link-local multicast; an IPv6 announcement carrying the
    device id an IPv4 sender announced is that sender's (a scope is written in IPv4 here)."""
    by_device = {summary["device_id_short"]: src for kind, src, summary in items
                 if kind == "syncthing" and ipaddress.ip_address(src).version == 4}
    out = []
    for kind, src, summary in items:
        owner = by_device.get(summary.get("device_id_short", "")) if kind == "syncthing" else None
        if owner and owner != src:
            summary = {**summary, "via_ipv6": src}
            src = owner
        out.append((kind, src, summary))
    return out


def decode(captured: list[Datagram], scope: ScopeView | None = None) -> tuple[tuple[Heard, ...], int, int]:
    """Aggregate captured datagrams into senders: (heard, ignored datagrams, out-of-scope senders).
    Senders outside ``scope`` are counted, not reported (no scope: every sender is kept)."""
    items: list[tuple[str, str, dict[str, Any]]] = []
    ignored = 0
    for src, dst, port, payload in captured:
        try:
            classified = _classify(dst, port, payload)
        except AnnouncementError:
            ignored += 1
            continue
        if classified is not None:
            items.append((classified[0], src, classified[1]))
    counts: dict[tuple[str, str], int] = {}
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    ipv6: dict[tuple[str, str], set[str]] = {}
    outside: set[str] = set()
    for kind, src, summary in _attribute_ipv6(items):
        if not _in_scope(src, scope):
            outside.add(src)
            continue
        key = (kind, src)
        counts[key] = counts.get(key, 0) + 1
        if "via_ipv6" in summary:
            ipv6.setdefault(key, set()).add(summary.pop("via_ipv6"))
        summaries[key] = {**summaries.get(key, {}), **summary}
    for key, sources in ipv6.items():
        summaries[key]["ipv6_sources"] = sorted(sources)
    heard = tuple(Heard(kind, src, counts[(kind, src)], summaries[(kind, src)]) for kind, src in sorted(counts))
    return heard, ignored, len(outside)


def capture(seconds: float, ports: tuple[int, ...] = LISTEN_PORTS) -> list[Datagram]:
    """Incoming UDP datagrams to ``ports`` for ``seconds``. PermissionError without CAP_NET_RAW."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    out: list[Datagram] = []
    with sock:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and len(out) < 10_000:
            sock.settimeout(min(remaining, 1.0))
            try:
                frame, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == PACKET_OUTGOING or addr[1] not in (0x0800, 0x86DD):
                continue
            parsed = parse_ip_udp(frame)
            if parsed and parsed[2] in ports:
                out.append(parsed)
    return out


def listen_once(ctx: ProbeContext) -> LanSyncFacts:
    """One listening window with ``ctx``'s settings (no sharing: see ``shared_capture``)."""
    requested = float(ctx.listen_seconds)
    window = max(0.0, requested)
    if window <= 0:
        return LanSyncFacts(window_s=0.0, requested_s=requested)
    try:
        captured = capture(window)
    except PermissionError as exc:
        return LanSyncFacts(window_s=0.0, requested_s=requested, denied=f"no raw socket: {exc.strerror}")
    heard, ignored, outside = decode(captured, ctx.scope)
    return LanSyncFacts(window_s=window, requested_s=requested, heard=heard, ignored=ignored, out_of_scope=outside)


@dataclass
class _Shared:
    done: threading.Event = field(default_factory=threading.Event)
    facts: LanSyncFacts | None = None


_RUNS: dict[str, _Shared] = {}
_RUNS_LOCK = threading.Lock()
_RUNS_KEPT = 16  # a long-lived process (a fleet sensor) runs many scans: keep only the recent ones


def shared_capture(ctx: ProbeContext) -> LanSyncFacts:
    """The run's one capture, keyed by ``ctx.run_id`` (a context without one, outside the runner,
    is its own run): the first caller listens, the others (sync ports' targets) wait for it."""
    key = ctx.run_id or f"context-{id(ctx)}"
    with _RUNS_LOCK:
        entry = _RUNS.get(key)
        first = entry is None
        if entry is None:
            entry = _RUNS[key] = _Shared()
            while len(_RUNS) > _RUNS_KEPT:
                _RUNS.pop(next(iter(_RUNS)))
    if first:
        try:
            entry.facts = listen_once(ctx)
        finally:
            entry.done.set()
    elif not entry.done.wait(ctx.listen_seconds + ctx.timeouts.probe):
        raise ProbeTimeout("the run's passive listening window did not end in time")
    if entry.facts is None:
        raise ProbeError("the run's passive listening failed", ErrorReason.BUG)
    return entry.facts


class LanSyncAnnouncements(Probe[LanSyncFacts]):
    """The run's one capture, for the network-level target and for each discovered sync port
    (whose check must know whether the host was also heard announcing)."""

    name = "lan-sync-listen"
    listens = True  # the runner's deadline for this probe is timeouts.probe + listen_seconds

    @classmethod
    def applies(cls, target: Target) -> bool:
        if target.host is None:
            return target.service == "network"
        return target.service in SYNC_PORT_SERVICES and target.transport == "tcp"

    def collect(self, target: Target, ctx: ProbeContext) -> LanSyncFacts:
        return shared_capture(ctx)
