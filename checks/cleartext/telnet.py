"""cleartext.telnet — a Telnet service: every keystroke, the password included, crosses in clear.

Telnet (RFC 854) has no encryption in the protocol, so an open Telnet service is the gap. The
probe confirms the port speaks Telnet (IAC option negotiation, or a printable login prompt)
from what the server sends first; it answers nothing and never logs on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Finding, Severity, Skip, Target, utcnow
from scanner.net.text import sanitize

IAC = 0xFF
MAX_BYTES = 4096


@dataclass(frozen=True)
class TelnetFacts:
    negotiation: bool  # IAC option negotiation seen
    banner: str  # printable text the server sent (sanitised)

    def evidence(self) -> Evidence:
        return Evidence(kind="telnet-greeting",
                        summary=f"Telnet {'option negotiation' if self.negotiation else 'text'}; banner "
                                f"{self.banner[:80]!r}",
                        data={"iac_negotiation": self.negotiation, "banner": self.banner},
                        collected_at=utcnow(), method="TCP connect, read what the server sends first (no reply)")


def _printable(data: bytes) -> str:
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == IAC and i + 1 < len(data):
            i += 3 if data[i + 1] in (251, 252, 253, 254) else 2  # WILL/WONT/DO/DONT take an option byte
            continue
        out.append(data[i])
        i += 1
    return sanitize(out.decode("latin-1").strip(), 300)


class TelnetGreeting(Probe[TelnetFacts]):
    name = "telnet-greeting"

    def collect(self, target: Target, ctx: ProbeContext) -> TelnetFacts:
        assert target.host is not None and target.port is not None
        try:
            sock = socket.create_connection((target.host, target.port), timeout=ctx.timeouts.connect)
        except Exception as exc:
            raise translate_os_error(exc, f"Telnet connect to {target.host}:{target.port}") from exc
        data = b""
        deadline = time.monotonic() + ctx.timeouts.read
        with sock:
            while len(data) < MAX_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (data and (b":" in data or len(data) > 64)):
                    break
                sock.settimeout(min(remaining, 1.0 if data else remaining))
                try:
                    chunk = sock.recv(MAX_BYTES)
                except TimeoutError:
                    if data:
                        break
                    continue
                except Exception as exc:
                    raise translate_os_error(exc, "Telnet read") from exc
                if not chunk:
                    break
                data += chunk
        negotiation = IAC in data
        banner = _printable(data)
        if not negotiation and not banner:
            raise ProtocolError(f"Telnet {target.host}:{target.port}: the server sent nothing to identify it")
        return TelnetFacts(negotiation, banner)


class CleartextTelnet(Check):
    meta = CheckMeta(
        id="cleartext.telnet",
        title="Telnet service exposed: sessions and passwords travel in clear",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"telnet"})),
        why=(
            "Telnet sends every keystroke, passwords included, unencrypted. Whoever can see the network traffic can "
            "take over the device."
        ),
        remediation="Disable Telnet and use SSH for remote administration (on devices that offer only Telnet, "
                    "isolate their management interface on a separate VLAN and plan replacement).",
        description="Confirms the port speaks Telnet from its first bytes; Telnet has no encryption.",
    )
    probes = (TelnetGreeting,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        telnet: TelnetFacts = facts[TelnetGreeting]
        how = "option negotiation" if telnet.negotiation else "a text greeting"
        yield self.finding(target, passed=False, evidence=[telnet.evidence()],
                           detail=f"{target.host}:{target.port} speaks Telnet ({how}"
                                  + (f", {telnet.banner[:60]!r}" if telnet.banner else "") + "): no encryption")
