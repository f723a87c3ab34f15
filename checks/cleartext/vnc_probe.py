"""The security types a VNC server offers (RFB, RFC 6143 §7.1.1-§7.1.2), read without choosing one.

The probe reads the server's ProtocolVersion, answers with the same (at most 3.8), reads the
security-type list and closes: no authentication is attempted. ``ENCRYPTING`` are the types
that encrypt the session: RA2/RA2ne (5, 6), TLS (18), VeNCrypt (19), RSA-AES (129, 133); VeNCrypt
subtypes are not examined.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp, recv_exact, send_all
from scanner.net.text import sanitize

TYPE_NAMES = {0: "Invalid", 1: "None", 2: "VNC Authentication", 5: "RA2", 6: "RA2ne", 16: "Tight", 17: "Ultra",
              18: "TLS", 19: "VeNCrypt", 20: "SASL", 21: "MD5", 22: "xvp", 30: "Apple DH", 129: "RSA-AES",
              130: "RSA-AES unencrypted", 133: "RSA-AES-256", 134: "RSA-AES-256 unencrypted"}
ENCRYPTING = frozenset({5, 6, 18, 19, 129, 133})
_VERSION = re.compile(rb"^RFB (\d{3})\.(\d{3})\n$")


@dataclass(frozen=True)
class VncFacts:
    server_version: str
    security_types: tuple[int, ...]

    @property
    def names(self) -> list[str]:
        return [TYPE_NAMES.get(t, f"type {t}") for t in self.security_types]

    def evidence(self) -> Evidence:
        return Evidence(kind="rfb-security-types",
                        summary=f"RFB {self.server_version}; security types: {', '.join(self.names)}",
                        data={"rfb_version": self.server_version, "security_types": list(self.security_types),
                              "names": self.names},
                        collected_at=utcnow(),
                        method="RFB ProtocolVersion exchange, security-type list read, closed without choosing")


class RfbSecurityTypes(Probe[VncFacts]):
    name = "rfb-security-types"

    def collect(self, target: Target, ctx: ProbeContext) -> VncFacts:
        assert target.host is not None and target.port is not None
        sock = connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "VNC")
        with sock:
            deadline = ctx.until(ctx.timeouts.read)
            banner = recv_exact(sock, 12, deadline, "VNC read")
            match = _VERSION.match(banner)
            if not match:
                raise ProtocolError(f"VNC: not an RFB ProtocolVersion: {sanitize(banner.decode('latin-1'), 40)!r}")
            major, minor = int(match.group(1)), int(match.group(2))
            version = f"{major}.{minor}"
            if (major, minor) >= (3, 7):
                chosen = b"RFB 003.008\n" if (major, minor) >= (3, 8) else b"RFB 003.007\n"
            else:
                chosen = b"RFB 003.003\n"
            send_all(sock, chosen, "VNC send")
            if chosen == b"RFB 003.003\n":  # the server decides: one u32 type
                (kind,) = struct.unpack("!I", recv_exact(sock, 4, deadline, "VNC read"))
                types: tuple[int, ...] = (kind,)
            else:
                count = recv_exact(sock, 1, deadline, "VNC read")[0]
                types = tuple(recv_exact(sock, count, deadline, "VNC read")) if count else (0,)
            if types == (0,):
                length = struct.unpack("!I", recv_exact(sock, 4, deadline, "VNC read"))[0]
                reason = recv_exact(sock, min(length, 512), deadline, "VNC read").decode("utf-8", "replace")
                raise ProtocolError(f"VNC server refused the connection: {sanitize(reason, 200)!r}")
            return VncFacts(version, types)
