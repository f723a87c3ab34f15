"""What a Telnet service sends first (RFC 854, RFC 855): option negotiation or a login prompt.

The probe reads what the server sends unprompted, within the probe's deadline and at most
``MAX_BYTES``, answers nothing and never logs on. Something that speaks Telnet is recognised
only on positive evidence (``parse_greeting``):

- **option negotiation**: the bytes open with an IAC command (IAC WILL/WONT/DO/DONT <option>,
  or IAC SB ... IAC SE), and every IAC in what was read is a well-formed command (RFC 854's
  command codes 240-255). Random bytes, or a binary protocol that happens to hold a 0xFF, do
  not qualify;
- **a login prompt**: the text ends in ``login:``, ``username:``, ``user name:``, ``user:`` or
  ``password:`` (case-insensitive), as a Telnet login does before it waits for input.

Anything else (one byte "2", megabytes of "A", "line 0", garbage) is a ProtocolError: the port
does not show it speaks Telnet, so ``cleartext.telnet`` gives no verdict.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp
from scanner.net.text import sanitize

IAC, SE, SB = 0xFF, 0xF0, 0xFA
WILL, WONT, DO, DONT = 0xFB, 0xFC, 0xFD, 0xFE
VERBS = {WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT"}
# RFC 854: NOP, Data Mark, Break, Interrupt Process, Abort Output, Are You There, Erase
# Character, Erase Line, Go Ahead — two-byte commands.
TWO_BYTE = frozenset(range(0xF1, 0xFA))
MAX_BYTES = 4096
# Once something arrived, a pause this long ends the read (a server that negotiated waits for
# our answers; one that prompted waits for a name).
QUIET = 1.0
_PROMPT = re.compile(r"(?:login|user ?name|user|password)\s*:\s*$", re.I)


@dataclass(frozen=True)
class TelnetFacts:
    negotiation: bool  # well-formed IAC option negotiation opened the stream
    banner: str  # printable text the server sent (sanitised)
    options: tuple[str, ...] = ()  # "DO 24", "WILL 1", "SB 24": the commands seen, at most 20
    prompt: str = ""  # the login prompt the text ends with, or ""

    @property
    def speaks_telnet(self) -> bool:
        return self.negotiation or bool(self.prompt)

    def evidence(self) -> Evidence:
        how = "option negotiation" if self.negotiation else f"login prompt {self.prompt!r}" if self.prompt else \
            "nothing recognisable"
        return Evidence(kind="telnet-greeting",
                        summary=f"Telnet {how}; banner {self.banner[:80]!r}",
                        data={"iac_negotiation": self.negotiation, "options": list(self.options),
                              "prompt": self.prompt, "banner": self.banner},
                        collected_at=utcnow(), method="TCP connect, read what the server sends first (no reply)")


def parse_greeting(data: bytes) -> TelnetFacts:
    """Facts of the first bytes a server sent: negotiation only when they open with an IAC
    command and every IAC is a well-formed command; a prompt only at the end of the text."""
    options: list[str] = []
    text = bytearray()
    well_formed = True
    i = 0
    while i < len(data):
        byte = data[i]
        if byte != IAC:
            text.append(byte)
            i += 1
            continue
        if i + 1 >= len(data):
            break  # cut at the read limit
        command = data[i + 1]
        if command in VERBS:
            if i + 2 >= len(data):
                break
            options.append(f"{VERBS[command]} {data[i + 2]}")
            i += 3
        elif command == SB:
            end = data.find(bytes((IAC, SE)), i + 2)
            if end < 0 or end == i + 2:
                well_formed = well_formed and end < 0  # cut at the read limit, or an empty SB
                break
            options.append(f"SB {data[i + 2]}")
            i = end + 2
        elif command == IAC:
            text.append(IAC)  # an escaped data byte 255
            i += 2
        elif command in TWO_BYTE:
            i += 2
        else:
            well_formed = False  # IAC followed by a byte that is no Telnet command
            i += 2
    opens_with_command = len(data) >= 2 and data[0] == IAC and data[1] in (*VERBS, SB)
    negotiation = opens_with_command and well_formed and bool(options)
    banner = sanitize(text.decode("latin-1").strip(), 300)
    match = _PROMPT.search(text.decode("latin-1").rstrip()[-64:])
    return TelnetFacts(negotiation, banner, tuple(options[:20]), sanitize(match.group(0), 40) if match else "")


class TelnetGreeting(Probe[TelnetFacts]):
    name = "telnet-greeting"

    def collect(self, target: Target, ctx: ProbeContext) -> TelnetFacts:
        assert target.host is not None and target.port is not None
        deadline = ctx.until(ctx.timeouts.probe)
        sock = connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "Telnet")
        data = b""
        # What the server sends first arrives within one read timeout, or not at all.
        first_by = min(deadline, ctx.until(ctx.timeouts.read))
        with sock:
            while len(data) < MAX_BYTES:
                if data and parse_greeting(data).prompt:
                    break
                remaining = (first_by if not data else deadline) - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(min(remaining, QUIET) if data else remaining)
                try:
                    chunk = sock.recv(MAX_BYTES - len(data))
                except TimeoutError:
                    break
                except Exception as exc:
                    raise translate_os_error(exc, "Telnet read") from exc
                if not chunk:
                    break
                data += chunk
        facts = parse_greeting(data)
        if not data:
            raise ProtocolError(f"Telnet {target.host}:{target.port}: the server sent nothing to identify it")
        if not facts.speaks_telnet:
            raise ProtocolError(f"Telnet {target.host}:{target.port}: {len(data)} byte(s) without Telnet option "
                                f"negotiation or a login prompt ({facts.banner[:60]!r}): not identified as Telnet")
        return facts
