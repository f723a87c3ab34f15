"""TCP connect and bounded socket I/O for binary protocols (Telnet, RFB, RDP, PostgreSQL, MySQL):
every read obeys a total deadline; socket errors become ``ProbeError``s naming what was tried."""

from __future__ import annotations

import socket
import time

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error


def connect_tcp(host: str, port: int, timeout: float, what: str) -> socket.socket:
    """A TCP connection to ``host:port`` within ``timeout`` seconds, or a ProbeError saying
    "``what`` connect to host:port" failed (refused, unreachable, timed out)."""
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except Exception as exc:
        raise translate_os_error(exc, f"{what} connect to {host}:{port}") from exc


def send_all(sock: socket.socket, data: bytes, what: str) -> None:
    """``sock.sendall`` with socket errors as ProbeErrors naming ``what``."""
    try:
        sock.sendall(data)
    except Exception as exc:
        raise translate_os_error(exc, what) from exc


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
