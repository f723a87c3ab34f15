"""What a Telnet service sends first (RFC 854): option negotiation (IAC) or a printable prompt.

The probe reads what the server sends unprompted for at most the read timeout, answers nothing
and never logs on; a port that sends nothing identifiable is a ProtocolError, not Telnet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp
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
        sock = connect_tcp(target.host, target.port, ctx.timeouts.connect, "Telnet")
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
