"""cleartext.vnc — a VNC server offering security type None, or VNC authentication without any
encrypting type (RFB, RFC 6143 §7.1.2 and §7.2).

The probe reads the server's ProtocolVersion, answers with the same (at most 3.8), reads the
security types the server offers and closes the connection without choosing one: no
authentication is attempted. None (1) lets anyone take the screen; VNC authentication (2) is a
DES challenge on an 8-character password with the session itself in clear. Types that encrypt
the session: RA2/RA2ne (5, 6), TLS (18), VeNCrypt (19), RSA-AES (129, 130, 133, 134). VeNCrypt
subtypes are not examined.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Finding, Severity, Skip, Target, utcnow
from scanner.net.sockets import recv_exact
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
        try:
            sock = socket.create_connection((target.host, target.port), timeout=ctx.timeouts.connect)
        except Exception as exc:
            raise translate_os_error(exc, f"VNC connect to {target.host}:{target.port}") from exc
        with sock:
            deadline = time.monotonic() + ctx.timeouts.read
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
            try:
                sock.sendall(chosen)
            except Exception as exc:
                raise translate_os_error(exc, "VNC send") from exc
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


class CleartextVnc(Check):
    meta = CheckMeta(
        id="cleartext.vnc",
        title="VNC offers no authentication, or only VNC password auth without encryption",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"vnc"})),
        why=(
            "The screen of this computer can be watched and controlled remotely without a password, or with only a "
            "short VNC password while everything on the screen travels unencrypted. Anyone on the network could see "
            "the patient records shown there and act as the person logged in."
        ),
        remediation=(
            "Require an encrypting security type with per-user accounts (TigerVNC: -SecurityTypes X509Plain or "
            "X509Vnc with a certificate; RealVNC: encryption always on) or tunnel VNC over SSH/VPN and bind it to "
            "localhost; never allow security type None."
        ),
        description="Reads the RFB security types offered; never authenticates.",
    )
    probes = (RfbSecurityTypes,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        vnc: VncFacts = facts[RfbSecurityTypes]
        offered = set(vnc.security_types)
        where = f"VNC {target.host}:{target.port} (RFB {vnc.server_version})"
        listed = ", ".join(vnc.names)
        if 1 in offered:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()], severity=Severity.CRITICAL,
                               detail=f"{where} offers security type None: anyone can take the screen ({listed})")
        elif 2 in offered and not offered & ENCRYPTING:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()],
                               detail=f"{where} offers only VNC password authentication, session unencrypted "
                                      f"({listed})")
        elif offered & ENCRYPTING:
            yield self.finding(target, passed=True, evidence=[vnc.evidence()],
                               detail=f"{where} offers a type that encrypts the session ({listed})")
        else:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()],
                               detail=f"{where} offers no type known to encrypt the session ({listed})")
