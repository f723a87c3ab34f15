"""TCP connect and bounded socket I/O for binary protocols (Telnet, RFB, RDP, PostgreSQL, MySQL):
every read obeys a total deadline; socket errors become ``ProbeError``s naming what was tried."""

from __future__ import annotations

import socket
import time
from typing import Any

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error


def connect_tcp(host: str, port: int, timeout: float, what: str) -> socket.socket:
    """A TCP connection to ``host:port`` within ``timeout`` seconds, or a ProbeError saying
    "``what`` connect to host:port" failed (refused, unreachable, timed out)."""
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except Exception as exc:
        raise translate_os_error(exc, f"{what} connect to {host}:{port}") from exc


class DeadlineSocket(socket.socket):
    """A socket whose every send and receive waits at most until one total ``deadline``
    (monotonic seconds), whatever per-call timeout its user sets: for libraries that take a
    socket and set their own per-read timeouts (http.client, paramiko), so that a server sending
    one byte every few seconds cannot stretch an exchange past the probe's deadline. Past the
    deadline every call raises ``TimeoutError``."""

    _deadline: float = 0.0
    _wanted: float | None = None

    @classmethod
    def adopt(cls, sock: socket.socket, deadline: float) -> DeadlineSocket:
        """Take over ``sock`` (which is detached and must not be used again)."""
        wanted = sock.gettimeout()
        bounded = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        bounded._deadline, bounded._wanted = deadline, wanted
        bounded._bound()
        return bounded

    def _bound(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the exchange's total deadline has passed")
        super().settimeout(left if self._wanted is None else min(self._wanted, left))

    def settimeout(self, value: float | None) -> None:
        self._wanted = value
        if value == 0:  # non-blocking stays non-blocking (a library's poll loop)
            super().settimeout(0)
            return
        self._bound()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._bound()
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._bound()
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._bound()
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._bound()
        super().sendall(data, flags)


def connect_bounded(host: str, port: int, deadline: float, connect_timeout: float, what: str) -> DeadlineSocket:
    """``connect_tcp`` within ``connect_timeout`` (or less when ``deadline`` is nearer), the
    connection then bounded by ``deadline`` for every later operation (``DeadlineSocket``)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProbeTimeout(f"{what} connect to {host}:{port}: no time left before the probe's deadline")
    sock = connect_tcp(host, port, min(connect_timeout, left), what)
    try:
        return DeadlineSocket.adopt(sock, deadline)
    except TimeoutError as exc:
        sock.close()
        raise ProbeTimeout(f"{what} connect to {host}:{port}: no time left before the probe's deadline") from exc


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
