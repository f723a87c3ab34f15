"""Anonymous FTP facts (RFC 959; anonymous convention RFC 1635; EPSV RFC 2428).

Logs on as ``anonymous`` with a fixed, obviously-not-a-person e-mail password (RFC 1635 asks for
an address; no real credential is ever sent), then, only if the logon succeeds, asks for a
directory listing over a passive data connection (names are counted, never stored, no file is
retrieved) and — only when the profile allows intrusive checks — stores one uniquely named empty
file and deletes it again. The data connection always goes to the control connection's peer,
never to the address in the PASV reply (a hostile server could point it anywhere).
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.backups import backup_names
from scanner.net.ftp import FtpReply, read_ftp_greeting, read_ftp_reply
from scanner.net.lines import LineClient
from scanner.net.text import sanitize

ANON_USERS = ("anonymous", "ftp")  # the two names RFC 1635 servers accept for anonymous FTP
ANON_PASSWORD = "gapscan@invalid"  # RFC 1635 convention; .invalid is reserved (RFC 2606)
MAX_LISTING = 256 * 1024  # bytes read from a listing at most; only a line count is kept
_PASV = re.compile(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
_EPSV = re.compile(r"\((.)\1\1(\d+)\1\)")


@dataclass(frozen=True)
class FtpAnonymousFacts:
    """The dialogue of one anonymous logon attempt, in order."""

    greeting: FtpReply
    dialogue: tuple[tuple[str, FtpReply], ...]  # (command as sent, with the password masked; reply)
    logged_in: bool
    user: str = ""  # the anonymous name that was accepted
    listing_works: bool | None = None  # None: not attempted (logon refused)
    listing_entries: int | None = None
    listing_note: str = ""
    upload_allowed: bool | None = None  # None: not tested (intrusive off or logon refused)
    upload_note: str = ""
    backup_names: tuple[str, ...] = ()  # top-level names that look like backups (no other name is kept)

    def evidence(self) -> Evidence:
        summary = f"greeting {self.greeting.code}; anonymous logon "
        summary += f"accepted as {self.user!r}" if self.logged_in else "refused"
        if self.listing_works is not None:
            summary += f"; LIST {'works' if self.listing_works else 'refused'}"
        if self.upload_allowed is not None:
            summary += f"; upload {'allowed' if self.upload_allowed else 'refused'}"
        method = "FTP USER anonymous|ftp / PASS <fixed address>, EPSV|PASV + LIST"
        if self.upload_allowed is not None:
            method += " + STOR/DELE of one empty file"
        return Evidence(
            kind="ftp-dialogue",
            summary=summary,
            data={"greeting": [sanitize(line, 200) for line in self.greeting.lines],
                  "dialogue": [{"sent": sanitize(sent, 120), "code": reply.code,
                                "reply": [sanitize(x, 200) for x in reply.lines]} for sent, reply in self.dialogue],
                  "logged_in": self.logged_in, "user": self.user, "listing_works": self.listing_works,
                  "listing_entries": self.listing_entries, "listing_note": self.listing_note,
                  "upload_allowed": self.upload_allowed, "upload_note": self.upload_note,
                  "backup_names": [sanitize(n, 80) for n in self.backup_names]},
            collected_at=utcnow(),
            method=method + ", QUIT",
        )


class FtpSession:
    """The control connection plus the record of what was said."""

    def __init__(self, client: LineClient, ctx: ProbeContext, host: str) -> None:
        self.client, self.ctx, self.host = client, ctx, host
        self.dialogue: list[tuple[str, FtpReply]] = []

    def command(self, line: str, shown: str | None = None) -> FtpReply:
        self.client.send_line(line)
        reply = read_ftp_reply(self.client)
        self.dialogue.append((shown or line, reply))
        return reply

    def data_connection(self) -> socket.socket:
        """Passive mode (EPSV, then PASV), connected to the control peer's address."""
        reply = self.command("EPSV")
        match = _EPSV.search(" ".join(reply.lines)) if reply.code == 229 else None
        if match is None:
            reply = self.command("PASV")
            pasv = _PASV.search(" ".join(reply.lines)) if reply.code == 227 else None
            if pasv is None:
                raise ProtocolError(f"FTP: no passive mode (EPSV/PASV replies {reply.code}: {reply.text()})")
            port = int(pasv.group(5)) * 256 + int(pasv.group(6))
        else:
            port = int(match.group(2))
        if not 0 < port < 65536:
            raise ProtocolError(f"FTP: passive port {port} out of range")
        try:
            return socket.create_connection((self.host, port), timeout=self.ctx.remaining(self.ctx.timeouts.connect))
        except Exception as exc:
            raise translate_os_error(exc, f"FTP data connection to port {port}") from exc

    def finish_transfer(self, started: FtpReply) -> FtpReply | None:
        """After 125/150, the closing 226/250 (or an error reply); None when no transfer started."""
        if started.code not in (125, 150):
            return None
        return read_ftp_reply(self.client)


class FtpAnonymous(Probe[FtpAnonymousFacts]):
    """Anonymous logon, LIST, and (intrusive only) an empty upload, on a plaintext FTP port."""

    name = "ftp-anonymous"

    def collect(self, target: Target, ctx: ProbeContext) -> FtpAnonymousFacts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="FTP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            greeting = read_ftp_greeting(client)
            session = FtpSession(client, ctx, target.host)
            logged_in_as = ""
            for user in ANON_USERS:
                if _logon(session, user):
                    logged_in_as = user
                    break
            logged_in = bool(logged_in_as)
            listing: dict[str, Any] = _listing(session) if logged_in else {}
            upload: dict[str, Any] = _upload(session) if logged_in and ctx.intrusive_allowed else {}
            with contextlib.suppress(ProtocolError, ProbeTimeout):
                session.command("QUIT")
            return FtpAnonymousFacts(greeting=greeting, dialogue=tuple(session.dialogue), logged_in=logged_in,
                                     user=logged_in_as, **listing, **upload)


def _logon(session: FtpSession, user: str) -> bool:
    """USER/PASS; True on 230. A 4xx (421 too busy, ...) says nothing about policy: an error."""
    reply = session.command(f"USER {user}")
    if reply.code == 331:
        reply = session.command(f"PASS {ANON_PASSWORD}", shown="PASS <fixed address>")
    if reply.code // 100 == 4 or reply.code // 100 not in (2, 3, 5):
        raise ProtocolError(f"FTP logon as {user}: unexpected reply {reply.code}: {reply.text()}")
    return reply.code == 230


def _listing(session: FtpSession) -> dict[str, Any]:
    data = session.data_connection()
    try:
        started = session.command("LIST")
        if started.code not in (125, 150):
            return {"listing_works": False, "listing_note": f"LIST refused: {started.code} {started.text()}"}
        size, lines, backups = _drain(data, session.ctx.timeouts.read)
    finally:
        data.close()
    done = session.finish_transfer(started)
    truncated = size >= MAX_LISTING  # we hung up on a long listing: it did work
    works = truncated or (done is not None and done.code in (226, 250))
    note = f"{lines} line(s), {size} bytes" + (" (truncated)" if truncated else "")
    if not works:
        note += f"; transfer ended {done.code if done else '?'}"
    return {"listing_works": works, "listing_entries": lines, "listing_note": note, "backup_names": backups}


def _upload(session: FtpSession) -> dict[str, Any]:
    name = f"gapscan-write-test-{uuid.uuid4().hex}.tmp"
    data = session.data_connection()
    try:
        started = session.command(f"STOR {name}")
    finally:
        data.close()  # an empty file: nothing to send
    if started.code not in (125, 150):
        return {"upload_allowed": False, "upload_note": f"STOR refused ({started.code})"}
    done = read_ftp_reply(session.client)
    # Remove the file even when the transfer failed: the server may have created it anyway.
    removed = session.command(f"DELE {name}")
    cleanup = "deleted" if removed.code == 250 else f"NOT deleted ({removed.code}): remove it by hand"
    if done.code in (226, 250):
        return {"upload_allowed": True, "upload_note": f"{name} stored and {cleanup}"}
    return {"upload_allowed": False, "upload_note": f"STOR started but ended {done.code}; {name} {cleanup}"}


def _drain(data: socket.socket, read_timeout: float) -> tuple[int, int, tuple[str, ...]]:
    """Read a listing to its end (bounded); return (bytes, lines, names that look like backups).
    Every other name is discarded: only backup-looking names are kept as evidence."""
    size = lines = 0
    raw = bytearray()
    deadline = time.monotonic() + read_timeout * 2
    while size < MAX_LISTING:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout("FTP: listing did not finish in time")
        data.settimeout(remaining)
        try:
            chunk = data.recv(8192)
        except Exception as exc:
            raise translate_os_error(exc, "FTP data connection read") from exc
        if not chunk:
            break
        size += len(chunk)
        lines += chunk.count(b"\n")
        raw += chunk[: max(0, MAX_LISTING - len(raw))]
    # LIST lines end with the name (ls -l style, RFC 959 leaves the format to the server).
    names = [line.split(maxsplit=8)[-1] for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return size, lines, backup_names(names)
