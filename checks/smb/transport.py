"""One request, one reply over SMB's Direct TCP transport (MS-SMB2 2.1), with hard limits.

Used by the NEGOTIATE probe, which needs the raw reply bytes. Every wait is bounded by the
probe's read timeout and by an overall deadline; a reply frame is capped in size.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

from checks.smb.wire import direct_tcp_frame
from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error

MAX_REPLY = 64 * 1024  # a NEGOTIATE reply is a few hundred bytes; anything this big is hostile
KEEPALIVE = 0x85  # RFC 1002 session keep-alive, tolerated before the reply


class ClosedWithoutReply(Exception):
    """The server closed or reset the connection before sending a single byte of its reply."""


class Deadline:
    """The time left to a probe; each wait takes the smaller of this and the read timeout."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def wait(self, read_timeout: float, what: str) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(f"{what}: probe deadline reached")
        return min(read_timeout, remaining)


def exchange(host: str, port: int, request: bytes, *, connect_timeout: float, read_timeout: float,
             deadline: Deadline, what: str) -> bytes:
    """Send one framed request and return the payload of the first reply frame.

    Raises ``ClosedWithoutReply`` when the server hangs up without answering (how Windows
    refuses an SMB1 negotiate), ``ProbeError`` for everything else that is not a reply.
    """
    try:
        sock = socket.create_connection((host, port), timeout=deadline.wait(connect_timeout, what))
    except Exception as exc:
        raise translate_os_error(exc, f"{what}: connect to {host}:{port}") from exc
    try:
        try:
            sock.sendall(direct_tcp_frame(request))
        except Exception as exc:
            raise translate_os_error(exc, f"{what}: send") from exc
        for _ in range(4):
            header = _read_exact(sock, 4, read_timeout, deadline, what, first=True)
            kind, length = header[0], struct.unpack(">I", b"\x00" + header[1:])[0]
            if kind == KEEPALIVE and length == 0:
                continue
            if kind != 0:
                raise ProtocolError(f"{what}: not a session message (type {kind:#x})")
            if length > MAX_REPLY:
                raise ProtocolError(f"{what}: reply of {length} bytes exceeds {MAX_REPLY}")
            return _read_exact(sock, length, read_timeout, deadline, what, first=False)
        raise ProtocolError(f"{what}: only keep-alives, no reply")
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _read_exact(sock: socket.socket, size: int, read_timeout: float, deadline: Deadline, what: str,
                *, first: bool) -> bytes:
    data = b""
    while len(data) < size:
        sock.settimeout(deadline.wait(read_timeout, what))
        try:
            chunk = sock.recv(size - len(data))
        except (ConnectionResetError, ConnectionAbortedError) as exc:
            if first and not data:
                raise ClosedWithoutReply(f"{what}: connection reset before any reply") from exc
            raise ProtocolError(f"{what}: connection reset in the middle of a reply") from exc
        except Exception as exc:
            raise translate_os_error(exc, f"{what}: read") from exc
        if not chunk:
            if first and not data:
                raise ClosedWithoutReply(f"{what}: connection closed before any reply")
            raise ProtocolError(f"{what}: connection closed in the middle of a reply "
                                f"({len(data)} of {size} bytes)")
        data += chunk
    return data
