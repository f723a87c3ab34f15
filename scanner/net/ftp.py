"""FTP replies (RFC 959 §4.2, §5.4): written once for the FTP probes and the AUTH TLS upgrade
(RFC 4217) of the TLS probe."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.errors import ProtocolError
from scanner.net.lines import MAX_LINES, LineClient
from scanner.net.text import sanitize


@dataclass(frozen=True)
class FtpReply:
    code: int
    lines: tuple[str, ...]

    def text(self) -> str:
        return sanitize(" / ".join(self.lines), 300)


def read_ftp_greeting(client: LineClient) -> FtpReply:
    """The opening reply (RFC 959 §5.4): 220, after at most one 120 "ready in nnn minutes";
    anything else is a ProtocolError saying what came instead."""
    greeting = read_ftp_reply(client)
    if greeting.code == 120:
        greeting = read_ftp_reply(client)
    if greeting.code != 220:
        raise ProtocolError(f"FTP greeting was {greeting.code}, not 220: {greeting.text()}")
    return greeting


def read_ftp_reply(client: LineClient) -> FtpReply:
    """One reply (RFC 959 §4.2): ``123-`` opens a multi-line reply that ``123 `` closes."""
    first = client.read_line()
    if len(first) < 3 or not first[:3].isdigit() or (len(first) > 3 and first[3] not in " -"):
        raise ProtocolError(f"{client.what}: not an FTP reply line: {sanitize(first, 80)!r}")
    code, lines = int(first[:3]), [first[4:]]
    if len(first) > 3 and first[3] == "-":
        for _ in range(MAX_LINES):
            line = client.read_line()
            if line.startswith(f"{code} ") or line == str(code):
                lines.append(line[4:])
                return FtpReply(code, tuple(lines))
            lines.append(line)
        raise ProtocolError(f"{client.what}: more than {MAX_LINES} lines in one reply")
    return FtpReply(code, tuple(lines))
