"""SMTP replies (RFC 5321 §4.2), the greeting and EHLO: written once for the mail probes and
the STARTTLS upgrade of the TLS probe."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.errors import ProtocolError
from scanner.net.lines import MAX_LINES, LineClient
from scanner.net.text import sanitize


def read_smtp_greeting(client: LineClient) -> list[str]:
    """The server's opening reply (RFC 5321 §4.3.1): 220, or a ProtocolError saying what came instead."""
    code, greeting = read_smtp_reply(client)
    if code != 220:
        raise ProtocolError(f"SMTP greeting was {code}, not 220: {sanitize(' '.join(greeting), 120)}")
    return greeting


def read_smtp_reply(client: LineClient) -> tuple[int, list[str]]:
    """An SMTP-style multi-line reply (RFC 5321 §4.2): ``250-...`` continues, ``250 ...`` ends.

    Returns the code and the text of each line. Garbage is a ProtocolError, not a guess.
    """
    lines: list[str] = []
    code: int | None = None
    for _ in range(MAX_LINES):
        line = client.read_line()
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
            raise ProtocolError(f"{client.what}: not an SMTP reply line: {sanitize(line, 80)!r}")
        this_code = int(line[:3])
        if code is not None and this_code != code:
            raise ProtocolError(f"{client.what}: reply code changed inside a multi-line reply")
        code = this_code
        lines.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            return code, lines
    raise ProtocolError(f"{client.what}: more than {MAX_LINES} lines in one reply")


def send_ehlo(client: LineClient) -> tuple[int, list[str]]:
    """EHLO and its reply. RFC 5321 §4.1.4: EHLO takes our FQDN or an address literal; we have no name."""
    client.send_line(f"EHLO [{client.local_address}]")
    return read_smtp_reply(client)


def ehlo_extensions(lines: Sequence[str]) -> dict[str, str]:
    """Keyword (upper-case) -> parameters of EHLO reply lines after the first (RFC 5321 §4.1.1.1)."""
    result: dict[str, str] = {}
    for line in lines:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            result[keyword.upper()] = params.strip()
    return result
