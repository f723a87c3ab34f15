"""TCP connects without a transport layer: one non-blocking socket per attempt.

Two users: the sweep's connect transport (``ConnectTransport``: an epoll set of in-flight
connects, for hosts that cannot use raw sockets or IPv6 targets), and the TCP ping of host
discovery (``connect_once``/``connect_with_retries``, asyncio). Every connect is a Python
``connect_ex``, which the scope guard's audit hook sees and refuses outside the scope.

An established connect is closed with an RST (``SO_LINGER`` 0): the sweep leaves no TIME_WAIT
sockets behind (a large sweep would otherwise exhaust the ephemeral port range, each 4-tuple
being held for 60 s), and the daemon's child sees the reset at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import select
import socket
import struct
import time
from dataclasses import dataclass
from enum import StrEnum

_LINGER_RST = struct.pack("ii", 1, 0)

# Transient local shortages (file descriptors, ephemeral ports, buffers) are not answers from
# the target: wait and try again, a bounded number of times, without counting an attempt.
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.EAGAIN})
_LOCAL_RETRY_DELAY = 0.05
_LOCAL_RETRIES = 40

# The host itself cannot be reached: no point trying its other ports.
UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN})


class PortState(StrEnum):
    OPEN = "open"  # handshake completed (or SYN-ACK)
    CLOSED = "closed"  # RST: the host is alive, nothing listens
    FILTERED = "filtered"  # no answer after every attempt
    UNREACHABLE = "unreachable"  # ICMP unreachable / ARP failure: the host is not there
    DENIED = "denied"  # a local or remote firewall refused (EACCES/EPERM, ICMP prohibited)


def state_of(err: int) -> PortState:
    """What the errno of a finished non-blocking connect says about the port."""
    if err == 0:
        return PortState.OPEN
    if err == errno.ECONNREFUSED:
        return PortState.CLOSED
    if err in UNREACHABLE_ERRNOS:
        return PortState.UNREACHABLE
    if err in (errno.EACCES, errno.EPERM):
        return PortState.DENIED
    if err == errno.ETIMEDOUT:
        return PortState.FILTERED
    # Anything else (ECONNRESET during the handshake, EPROTO ...) is an answer of sorts but
    # not an open port: closed, rather than an invented open service.
    return PortState.CLOSED


def ip_family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def close_with_reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    sock.close()


class ConnectTransport:
    """In-flight connects registered in the sweep's epoll set, one socket each."""

    def __init__(self, poller: select.epoll) -> None:
        self._poller = poller
        self._by_fd: dict[int, tuple[socket.socket, str, int, int]] = {}

    def start(self, address: str, port: int, attempt: int) -> tuple[int, socket.socket | None]:
        """Begin a connect: (-1, socket) while in flight, else (errno, None) for an immediate
        outcome (0: connected at once). ``OSError`` with a ``LOCAL_ERRNOS`` errno when no socket
        or port is to be had right now; ``OutOfScopeError`` from the audit hook."""
        sock = socket.socket(ip_family(address), socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            err = sock.connect_ex((address, port))  # the scope audit hook runs here
        except BaseException:
            sock.close()
            raise
        if err == errno.EINPROGRESS:
            fd = sock.fileno()
            self._by_fd[fd] = (sock, address, port, attempt)
            self._poller.register(fd, select.EPOLLOUT)
            return -1, sock
        if err == 0:
            close_with_reset(sock)
        else:
            sock.close()
        if err in LOCAL_ERRNOS:
            raise OSError(err, "local resource shortage during connect")
        return err, None

    def finished(self, fd: int) -> tuple[str, int, int, int] | None:
        """(address, port, attempt, errno) of the connect whose socket became writable."""
        entry = self._by_fd.pop(fd, None)
        if entry is None:
            return None
        sock, address, port, attempt = entry
        self._poller.unregister(fd)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            close_with_reset(sock)
        else:
            sock.close()
        return address, port, attempt, err

    def abandon(self, sock: socket.socket) -> None:
        """A timed-out connect: forget and close it (the kernel gives up its SYNs)."""
        fd = sock.fileno()
        if fd >= 0 and self._by_fd.pop(fd, None) is not None:
            self._poller.unregister(fd)
        sock.close()

    def close(self) -> None:
        for sock, *_rest in self._by_fd.values():
            sock.close()
        self._by_fd.clear()


# ------------------------------------------------------------- asyncio connects (TCP ping)


@dataclass(frozen=True)
class ConnectOutcome:
    state: PortState
    rtt: float | None  # seconds from SYN to answer
    errno: int | None = None


async def connect_once(address: str, port: int, timeout: float) -> ConnectOutcome:
    """One connect attempt with its own timeout; never raises for network conditions.

    Raises ``OutOfScopeError`` (from the audit hook) when the address is outside the scope,
    and ``OSError`` only for local shortages (``LOCAL_ERRNOS``), which the caller retries.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(ip_family(address), socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    waiter: asyncio.Future[int] = loop.create_future()
    registered = False
    start = time.monotonic()
    try:
        err = sock.connect_ex((address, port))  # the scope audit hook runs here
        if err == errno.EINPROGRESS:
            def _done() -> None:
                if not waiter.done():
                    waiter.set_result(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))

            loop.add_writer(sock.fileno(), _done)
            registered = True
            try:
                err = await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return ConnectOutcome(PortState.FILTERED, None, errno.ETIMEDOUT)
        if err in LOCAL_ERRNOS:
            raise OSError(err, "local resource shortage during connect")
        return ConnectOutcome(state_of(err), time.monotonic() - start, err)
    finally:
        if registered:
            loop.remove_writer(sock.fileno())
        close_with_reset(sock)


async def connect_with_retries(address: str, port: int, *, timeout: float,
                               retries: int) -> tuple[ConnectOutcome, int]:
    """Connect, retrying timed-out attempts only, at most ``retries`` times; local shortages
    are waited out without counting an attempt. Returns the outcome and the attempts made."""
    attempts = 0
    local_failures = 0
    while True:
        try:
            outcome = await connect_once(address, port, timeout)
        except OSError as exc:
            if exc.errno not in LOCAL_ERRNOS or local_failures >= _LOCAL_RETRIES:
                raise
            local_failures += 1
            await asyncio.sleep(_LOCAL_RETRY_DELAY)
            continue
        attempts += 1
        # A retry is a fresh socket (another 4-tuple): its answer is its own, so its round
        # trip is an unambiguous sample (the ambiguity of RFC 6298 §3 is a retransmission's).
        if outcome.state is not PortState.FILTERED or attempts > retries:
            return outcome, attempts
