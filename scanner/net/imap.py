"""IMAP before TLS: the greeting, CAPABILITY and tagged replies (RFC 9051 / RFC 3501 §6.1.1,
§7.1), written once for the IMAP probe and the STARTTLS upgrade (RFC 2595) of the TLS probe."""

from __future__ import annotations

import re

from scanner.errors import ProtocolError
from scanner.net.lines import MAX_LINES, LineClient
from scanner.net.text import sanitize

_CAPS_IN_GREETING = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)


def read_greeting(client: LineClient) -> tuple[str, str]:
    """(status, greeting line): status OK or PREAUTH (already logged in). A BYE greeting, or
    anything that is not an untagged OK/PREAUTH/BYE, is a ProtocolError."""
    greeting = client.read_line()
    status = greeting[2:].split(" ", 1)[0].upper() if greeting.startswith("* ") else ""
    if not greeting.startswith("* ") or status not in ("OK", "PREAUTH", "BYE"):
        raise ProtocolError(f"not an IMAP greeting: {sanitize(greeting, 80)!r}")
    if status == "BYE":
        raise ProtocolError(f"IMAP server refused the connection: {sanitize(greeting, 120)!r}")
    return status, greeting


def capabilities(client: LineClient, greeting: str, tag: str = "g1") -> tuple[str, ...]:
    """CAPABILITY's list, upper case. A server that refuses the command but listed its
    capabilities in the greeting's response code (RFC 3501 §7.1) gets those."""
    caps: list[str] = []
    client.send_line(f"{tag} CAPABILITY")
    for _ in range(MAX_LINES):
        line = client.read_line()
        if line.upper().startswith("* CAPABILITY "):
            caps += line.split()[2:]
        elif line.startswith(f"{tag} "):
            if line[len(tag) + 1:len(tag) + 3].upper() != "OK" and not caps:
                found = _CAPS_IN_GREETING.search(greeting)
                if not found:
                    raise ProtocolError(f"CAPABILITY failed: {sanitize(line, 120)!r}")
                caps = found.group(1).split()
            break
        elif not line.startswith("* "):
            raise ProtocolError(f"unexpected IMAP line: {sanitize(line, 80)!r}")
    else:
        raise ProtocolError(f"IMAP: more than {MAX_LINES} lines before the CAPABILITY result")
    return tuple(c.upper() for c in caps)


def read_tagged(client: LineClient, tag: str) -> tuple[str, list[str]]:
    """The tagged reply's text after the tag, and the untagged lines before it."""
    untagged: list[str] = []
    for _ in range(MAX_LINES):
        line = client.read_line()
        if line.startswith(tag + " "):
            return line[len(tag) + 1:], untagged
        untagged.append(line)
    raise ProtocolError("IMAP: no tagged reply")
