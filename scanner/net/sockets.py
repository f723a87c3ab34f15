"""Bounded socket reads for binary protocols (RFB, PostgreSQL, MySQL): every read obeys a total deadline."""

from __future__ import annotations

import socket
import time

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error


def recv_exact(sock: socket.socket, n: int, deadline: float, what: str) -> bytes:
    """Exactly ``n`` bytes before ``deadline`` (monotonic seconds), or a ProbeError naming ``what``:
    a timeout, or a ProtocolError when the peer closes part-way (never a short read passed on)."""
    data = b""
    while len(data) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(f"{what}: no complete reply in time")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(n - len(data))
        except Exception as exc:
            raise translate_os_error(exc, what) from exc
        if not chunk:
            raise ProtocolError(f"{what}: connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data
