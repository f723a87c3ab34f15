"""RDP security negotiation ([MS-RDPBCGR] 2.2.1.1 and 2.2.1.2): what the server selects for three
offers, each on its own connection — PROTOCOL_RDP only, PROTOCOL_SSL only, and SSL|HYBRID|HYBRID_EX.

Each offer is an X.224 Connection Request (TPKT, RFC 1006) carrying an RDP Negotiation Request;
the Connection Confirm's Negotiation Response or Failure is read and the connection closed.
Nothing is authenticated.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp, send_all

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX = 0, 1, 2, 8
PROTOCOLS = {0: "Standard RDP Security", 1: "TLS", 2: "CredSSP (NLA)", 3: "RDSTLS", 8: "CredSSP EX (NLA)",
             4: "RDSTLS", 16: "RDS AAD"}
FAILURES = {1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
            4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"}


def connection_request(requested: int) -> bytes:
    """TPKT (RFC 1006) + X.224 CR TPDU + cookie + RDP_NEG_REQ."""
    cookie = b"Cookie: mstshash=gapscan\r\n"
    neg = struct.pack("<BBHI", 0x01, 0, 8, requested)
    x224 = bytes([6 + len(cookie) + len(neg), 0xE0, 0, 0, 0, 0, 0]) + cookie + neg
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


@dataclass(frozen=True)
class NegAnswer:
    accepted: bool
    selected: int | None = None  # protocol the server selected
    failure: str = ""  # failure code name, or "no negotiation response (legacy: Standard RDP Security)"

    def text(self) -> str:
        if self.accepted:
            return f"selected {PROTOCOLS.get(self.selected or 0, str(self.selected))}"
        return f"refused: {self.failure}"


def parse_confirm(data: bytes) -> NegAnswer:
    if len(data) < 11 or data[0] != 3 or data[5] != 0xD0:
        raise ProtocolError("RDP: not an X.224 Connection Confirm")
    li = data[4]
    neg = data[11:5 + li]
    if len(neg) < 8:  # a pre-RDP-5.2 server: no negotiation, Standard RDP Security only
        return NegAnswer(True, PROTOCOL_RDP, "")
    kind, _flags, length, value = struct.unpack("<BBHI", neg[:8])
    if length != 8:
        raise ProtocolError(f"RDP: negotiation structure of length {length}")
    if kind == 0x02:
        return NegAnswer(True, value)
    if kind == 0x03:
        return NegAnswer(False, None, FAILURES.get(value, f"code {value}"))
    raise ProtocolError(f"RDP: unknown negotiation structure type {kind}")


@dataclass(frozen=True)
class RdpFacts:
    rdp_only: NegAnswer
    tls_only: NegAnswer
    full_offer: NegAnswer

    def evidence(self) -> Evidence:
        return Evidence(
            kind="rdp-negotiation",
            summary=f"RDP-only {self.rdp_only.text()}; TLS-only {self.tls_only.text()}; "
                    f"SSL|HYBRID|HYBRID_EX {self.full_offer.text()}",
            data={name: {"accepted": a.accepted, "selected": a.selected,
                         "selected_name": PROTOCOLS.get(a.selected) if a.selected is not None else None,
                         "failure": a.failure}
                  for name, a in (("requested_rdp", self.rdp_only), ("requested_tls", self.tls_only),
                                  ("requested_ssl_hybrid", self.full_offer))},
            collected_at=utcnow(),
            method="X.224 Connection Request with RDP_NEG_REQ (PROTOCOL_RDP; PROTOCOL_SSL; SSL|HYBRID|HYBRID_EX), "
                   "Connection Confirm read, closed: no authentication",
        )


def _ask(target: Target, ctx: ProbeContext, requested: int) -> NegAnswer:
    assert target.host is not None and target.port is not None
    with connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "RDP") as sock:
        send_all(sock, connection_request(requested), "RDP send")
        deadline = ctx.until(ctx.timeouts.read)
        data = b""
        while len(data) < 4 or len(data) < struct.unpack("!H", data[2:4])[0]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout("RDP: no Connection Confirm in time")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(512)
            except Exception as exc:
                raise translate_os_error(exc, "RDP read") from exc
            if not chunk:
                if not data:  # some servers hang up on a protocol they refuse
                    return NegAnswer(False, None, "connection closed without a reply")
                raise ProtocolError("RDP: Connection Confirm truncated")
            data += chunk
            if len(data) > 512:
                raise ProtocolError("RDP: oversized Connection Confirm")
        return parse_confirm(data[:struct.unpack("!H", data[2:4])[0]])


class RdpNegotiation(Probe[RdpFacts]):
    name = "rdp-negotiation"

    def collect(self, target: Target, ctx: ProbeContext) -> RdpFacts:
        return RdpFacts(_ask(target, ctx, PROTOCOL_RDP), _ask(target, ctx, PROTOCOL_SSL),
                        _ask(target, ctx, PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX))
