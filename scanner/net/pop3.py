"""POP3 before TLS: the greeting and CAPA (RFC 1939, RFC 2449), written once for the POP3 probe
and the STLS upgrade (RFC 2595 §4) of the TLS probe."""

from __future__ import annotations

from scanner.errors import ProtocolError
from scanner.net.lines import MAX_LINES, LineClient
from scanner.net.text import sanitize


def read_greeting(client: LineClient) -> str:
    greeting = client.read_line()
    if not greeting.startswith("+OK"):
        raise ProtocolError(f"not a POP3 greeting: {sanitize(greeting, 80)!r}")
    return greeting


def capa(client: LineClient) -> tuple[bool, tuple[str, ...]]:
    """(CAPA supported, its lines). -ERR is a pre-RFC 2449 server: (False, ())."""
    client.send_line("CAPA")
    first = client.read_line()
    caps: list[str] = []
    if first.startswith("+OK"):
        for _ in range(MAX_LINES):
            line = client.read_line()
            if line == ".":
                break
            caps.append(line[1:] if line.startswith("..") else line)  # RFC 1939 §3 byte-stuffing
        else:
            raise ProtocolError(f"POP3 CAPA: more than {MAX_LINES} lines without the final '.'")
    elif not first.startswith("-ERR"):
        raise ProtocolError(f"POP3 CAPA answered neither +OK nor -ERR: {sanitize(first, 80)!r}")
    return first.startswith("+OK"), tuple(caps)


def capa_keywords(lines: tuple[str, ...]) -> dict[str, str]:
    """Upper-case keyword -> the rest of each CAPA line (RFC 2449 §5)."""
    return {line.split(" ", 1)[0].upper(): line.partition(" ")[2] for line in lines}
