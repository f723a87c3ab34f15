"""The built-in TCP connect sweep: which (address, port) pairs accept a connection.

Speed comes from doing nothing but the handshake: a non-blocking ``connect_ex`` whose
completion is awaited with ``loop.add_writer`` (no transport/protocol objects, no name
resolution), closed with an RST as soon as it is established.

Completeness is earned, not assumed (docs/lab-notes.md, "Scanning speed"): forking daemons
(sshd, smbd, vsftpd, postfix) have small listen backlogs, and a SYN that arrives while the
backlog is full is silently dropped. The kernel retransmits it after 1 s and 3 s, so a sweep
that gives up at 2 s misses open ports (32 of 1,778 in the lab). Each connect attempt here
therefore lasts long enough to see the kernel's first SYN retransmission (Linux's initial
RTO is 1 s, RFC 6298 §2.1), and a connect that timed out is retried on a fresh socket a
bounded number of times. Only *timeouts* are retried: a refusal (RST) or an ICMP unreachable
is an answer, and asking again would only add load on fragile devices.

Speed under those drops comes from *hedging* (``connect_once``): when a SYN has gone
unanswered for several round-trip times (RFC 6298 RTO from the handshakes seen so far, at
least ``HEDGE_FLOOR``), a second connect to the same port starts alongside the first, which
keeps its own kernel retransmission; the first answer wins. A backlog drains in a few hundred
milliseconds, so a dropped SYN costs that, not the kernel's full second. Measured on the lab's
dense /24 (benchmarks/discovery_bench.py): every one of 1,778 open ports found in ~2.2 s of
sweep, where waiting for kernel retransmissions alone took 2.6–3.1 s.

Load is bounded twice: by a global limit on connects in flight and by a small per-host limit
(clinical networks hold fragile devices). Each host's port list is rotated by a different
offset, so that at any moment the connects in flight are spread over different services
rather than all hitting the same daemon on many addresses at once.

Every connect goes through a Python socket, so the scope guard's audit hook (scanner.scope.guard)
sees it; ``sweep`` additionally refuses the whole batch up front if any address is out of
scope, before a single packet is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from scanner.scope.guard import require_in_scope

T = TypeVar("T")

# Linux sends the first SYN retransmission 1 s after the SYN (initial RTO, RFC 6298 §2.1):
# an attempt of 1.25 s sees the answer to that retransmission on any path with an RTT under
# 250 ms, so one attempt is two SYNs. A longer attempt would only wait for the 3 s
# retransmission, which a fresh attempt at 1.25 s beats.
ATTEMPT_TIMEOUT = 1.25
_KERNEL_INITIAL_RTO = 1.0

# Hedged connects (see connect_once): never sooner than this after the SYN, at most this many
# per attempt. On a LAN a SYN-ACK takes milliseconds, a drained backlog a few hundred.
HEDGE_FLOOR = 0.2
MAX_HEDGES = 2

# Transient local shortages (file descriptors, ephemeral ports) are not answers from the
# target: wait and try again, a bounded number of times, without counting an attempt.
_LOCAL_RETRY_DELAY = 0.05
_LOCAL_RETRIES = 40
_LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.EAGAIN})

# The host itself cannot be reached: no point trying its other ports.
_UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN})

# Linger on, timeout 0: close() sends an RST instead of a FIN. The sweep leaves no TIME_WAIT
# sockets behind (a large sweep would otherwise exhaust the ephemeral port range, each
# 4-tuple being held for 60 s), and the daemon's child sees the reset at once.
_LINGER_RST = struct.pack("ii", 1, 0)


class PortState(StrEnum):
    OPEN = "open"  # handshake completed
    CLOSED = "closed"  # RST: the host is alive, nothing listens
    FILTERED = "filtered"  # no answer after every attempt
    UNREACHABLE = "unreachable"  # ICMP unreachable / ARP failure: the host is not there
    DENIED = "denied"  # a local or remote firewall refused with EACCES/EPERM


@dataclass(frozen=True)
class ConnectOutcome:
    state: PortState
    rtt: float | None  # seconds from SYN to answer, for an answered first SYN
    errno: int | None = None
    sockets: int = 1  # connects started in the attempt (1 + hedges used)


def ip_family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _outcome(err: int, rtt: float | None) -> ConnectOutcome:
    """What the errno of a finished non-blocking connect says about the port."""
    if err == 0:
        return ConnectOutcome(PortState.OPEN, rtt)
    if err == errno.ECONNREFUSED:
        return ConnectOutcome(PortState.CLOSED, rtt, err)
    if err in _UNREACHABLE_ERRNOS:
        return ConnectOutcome(PortState.UNREACHABLE, rtt, err)
    if err in (errno.EACCES, errno.EPERM):
        return ConnectOutcome(PortState.DENIED, rtt, err)
    if err == errno.ETIMEDOUT:
        return ConnectOutcome(PortState.FILTERED, None, err)
    if err in _LOCAL_ERRNOS:
        raise OSError(err, "local resource shortage during connect")
    # Anything else (ECONNRESET during the handshake, EPROTO ...) is an answer of sorts but
    # not an open port; treat it as closed rather than invent an open service.
    return ConnectOutcome(PortState.CLOSED, rtt, err)


async def connect_once(
    address: str, port: int, timeout: float, hedges: Sequence[float] = ()
) -> ConnectOutcome:
    """One connect attempt with its own timeout; never raises for network conditions.

    ``hedges``: seconds after the start at which, if nothing has answered yet, a further
    connect to the same port is started on a fresh socket *alongside* the first one (which
    keeps its kernel SYN retransmission). The first answer from any of them is the answer;
    the others are closed. A SYN dropped by a full listen backlog is thus retried as soon as
    the backlog has had time to drain, instead of at the kernel's 1 s retransmission, while
    the attempt's window and its completeness stay what they were without hedges.

    ``rtt`` is set only for an unambiguous sample (Karn's algorithm, RFC 6298 §3): the first
    socket answered before any hedge and before the kernel's first retransmission.

    Raises ``OutOfScopeError`` (from the audit hook) when the address is outside the scope,
    and ``OSError`` only for local shortages (``_LOCAL_ERRNOS``), which the caller retries.
    """
    loop = asyncio.get_running_loop()
    family = ip_family(address)
    socks: list[socket.socket] = []
    timers: list[asyncio.TimerHandle] = []
    waiter: asyncio.Future[tuple[int, int]] = loop.create_future()  # (socket index, errno)
    winner: socket.socket | None = None

    def _finished(index: int, sock: socket.socket) -> None:
        loop.remove_writer(sock.fileno())
        if not waiter.done():
            waiter.set_result((index, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))

    def _start() -> None:
        sock = socket.socket(family, socket.SOCK_STREAM)
        socks.append(sock)  # before connecting: the finally below closes it whatever happens
        sock.setblocking(False)
        index = len(socks) - 1
        err = sock.connect_ex((address, port))  # the scope audit hook runs here
        if err == errno.EINPROGRESS:
            loop.add_writer(sock.fileno(), _finished, index, sock)
        elif not waiter.done():
            waiter.set_result((index, err))

    def _hedge() -> None:
        if waiter.done():
            return
        with contextlib.suppress(OSError):  # no descriptor or port to spare: the first goes on
            _start()

    def _expired() -> None:
        if not waiter.done():
            waiter.set_result((-1, errno.ETIMEDOUT))

    start = time.monotonic()
    try:
        _start()
        timers.append(loop.call_later(timeout, _expired))
        timers.extend(loop.call_later(delay, _hedge) for delay in hedges if 0 < delay < timeout)
        index, err = await waiter
        elapsed = time.monotonic() - start
        if index < 0:
            return ConnectOutcome(PortState.FILTERED, None, sockets=len(socks))
        first_hedge = min((d for d in hedges if d > 0), default=timeout)
        unambiguous = index == 0 and elapsed < min(first_hedge, _KERNEL_INITIAL_RTO)
        outcome = _outcome(err, elapsed if unambiguous else None)
        if outcome.state is PortState.OPEN:
            winner = socks[index]
        return dataclasses.replace(outcome, sockets=len(socks))
    finally:
        for timer in timers:
            timer.cancel()
        for sock in socks:
            if sock.fileno() >= 0:
                loop.remove_writer(sock.fileno())
            if sock is winner:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            sock.close()


class RttEstimator:
    """Smoothed round-trip time and its variation (RFC 6298 §2), from connect handshakes."""

    def __init__(self) -> None:
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.samples = 0

    def add(self, rtt: float) -> None:
        self.samples += 1
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
            return
        self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
        self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def rto(self) -> float | None:
        if self.srtt is None:
            return None
        return self.srtt + max(0.01, 4 * self.rttvar)


def hedge_delays(rto: float | None, timeout: float) -> tuple[float, ...]:
    """When to start hedged connects within an attempt: after ``max(HEDGE_FLOOR, RTO)`` and
    twice that (exponential backoff, RFC 6298 §5.5), never without an RTT measured first."""
    if rto is None:
        return ()
    first = max(HEDGE_FLOOR, rto)
    return tuple(d for d in (first * 2**i for i in range(MAX_HEDGES)) if d < timeout - first / 2)


async def connect_with_retries(
    address: str,
    port: int,
    *,
    timeout: float,
    retries: int,
    hedges: Callable[[], Sequence[float]] | None = None,
) -> tuple[ConnectOutcome, int]:
    """Connect, retrying timed-out attempts only, at most ``retries`` times.

    ``hedges`` gives each attempt's hedge delays (see ``connect_once``), computed afresh per
    attempt from the latest RTT estimate. Returns the final outcome (its ``sockets``: the
    connects started over every attempt) and the number of attempts made.
    """
    attempts = 0
    sockets = 0
    local_failures = 0
    while True:
        try:
            if hedges is None:
                outcome = await connect_once(address, port, timeout)
            else:
                outcome = await connect_once(address, port, timeout, hedges())
        except OSError as exc:
            if exc.errno not in _LOCAL_ERRNOS or local_failures >= _LOCAL_RETRIES:
                raise
            local_failures += 1
            await asyncio.sleep(_LOCAL_RETRY_DELAY)
            continue
        attempts += 1
        sockets += outcome.sockets
        if outcome.state is not PortState.FILTERED or attempts > retries:
            return dataclasses.replace(outcome, sockets=sockets), attempts


# ----------------------------------------------------------------------- bounded execution


async def run_per_host(
    work: Sequence[tuple[str, Sequence[T]]],
    fn: Callable[[str, T], Awaitable[bool]],
    *,
    global_limit: int,
    per_host: int,
) -> None:
    """Run ``fn(host, item)`` for every item, at most ``global_limit`` at once overall and at
    most ``per_host`` at once for one host. ``fn`` returns False to abandon the rest of that
    host's items (the host turned out to be unreachable).

    Hosts are taken in order and only a bounded number are active at a time, so memory stays
    flat however large the scope. An exception in ``fn`` (``OutOfScopeError``) cancels
    everything and propagates.
    """
    if not work:
        return
    global_sem = asyncio.Semaphore(max(1, global_limit))
    per_host = max(1, per_host)
    # Enough active hosts to keep every global slot busy, twice over so that a host finishing
    # its last items does not leave slots idle.
    active_hosts = min(len(work), max(1, -(-global_limit // per_host)) * 2)
    next_host = iter(work)

    async def host_runner() -> None:
        for host, items in next_host:
            queue = list(reversed(items))
            stop = False

            async def worker(host: str = host, queue: list[T] = queue) -> None:
                nonlocal stop
                while queue and not stop:
                    item = queue.pop()
                    async with global_sem:
                        if stop:
                            return
                        keep_going = await fn(host, item)
                    if not keep_going:
                        stop = True

            await gather_first_error(worker() for _ in range(min(per_host, len(items))))

    await gather_first_error(host_runner() for _ in range(active_hosts))


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def gather_first_error(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines together; on the first failure cancel the rest and re-raise that
    exception itself (callers expect ``OutOfScopeError``, not an ``ExceptionGroup``)."""
    try:
        async with asyncio.TaskGroup() as tg:
            for coro in coros:
                tg.create_task(coro)
    except BaseExceptionGroup as group:
        raise _first_leaf(group) from None


def rotated(items: Sequence[T], offset: int) -> list[T]:
    """``items`` starting at ``offset`` (mod len), wrapping around."""
    if not items:
        return []
    k = offset % len(items)
    return [*items[k:], *items[:k]]


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    """What the connect sweep established."""

    open_ports: dict[str, list[int]] = field(default_factory=dict)  # sorted per host
    responded: set[str] = field(default_factory=set)  # answered at least once (open or RST)
    unreachable: set[str] = field(default_factory=set)
    filtered: int = 0  # (address, port) pairs that never answered
    denied: int = 0
    connects: int = 0  # attempts actually made
    hedged: int = 0  # extra connects started by hedging (see connect_once)
    retried: int = 0  # pairs that needed more than one attempt
    recovered: int = 0  # pairs found open only thanks to a retry
    duration_s: float = 0.0


ProgressFn = Callable[[int, int], None]


async def sweep(
    addresses: Iterable[str],
    ports: Sequence[int],
    *,
    global_limit: int,
    per_host: int,
    connect_timeout: float,
    retries: int,
    hedging: bool = True,
    known: Mapping[str, tuple[int, bool]] | None = None,
    on_progress: ProgressFn | None = None,
) -> SweepResult:
    """TCP connect sweep of ``ports`` on every address.

    ``known``: {address: (port, open)} already established (by the TCP ping); those pairs are
    counted as answered and not connected to again.

    Refuses the whole batch with ``OutOfScopeError`` before sending anything if one address is
    outside the active scope.
    """
    hosts = list(dict.fromkeys(addresses))
    for address in hosts:
        require_in_scope(address)
    port_list = list(dict.fromkeys(ports))
    result = SweepResult()
    total = len(hosts) * len(port_list)
    done = 0
    known = known or {}
    for host, (port, is_open) in known.items():
        if host in hosts and port in port_list:
            result.responded.add(host)
            done += 1
            if is_open:
                result.open_ports.setdefault(host, []).append(port)
    timeout = min(connect_timeout, ATTEMPT_TIMEOUT)
    start = time.monotonic()
    # RTT per host (a routed host may be far slower than the local segment), falling back
    # to the sweep-wide estimate until the host has answered once.
    overall = RttEstimator()
    per_host_rtt: dict[str, RttEstimator] = {}

    async def probe(host: str, port: int) -> bool:
        nonlocal done
        own = per_host_rtt.setdefault(host, RttEstimator())

        def delays() -> Sequence[float]:
            if not hedging:
                return ()
            return hedge_delays(own.rto() if own.samples else overall.rto(), timeout)

        outcome, attempts = await connect_with_retries(host, port, timeout=timeout, retries=retries,
                                                       hedges=delays)
        if outcome.rtt is not None and attempts == 1:
            own.add(outcome.rtt)
            overall.add(outcome.rtt)
        result.connects += attempts
        result.hedged += outcome.sockets - attempts
        if attempts > 1:
            result.retried += 1
        state = outcome.state
        if state is PortState.OPEN:
            result.open_ports.setdefault(host, []).append(port)
            result.responded.add(host)
            if attempts > 1:
                result.recovered += 1
        elif state is PortState.CLOSED:
            result.responded.add(host)
        elif state is PortState.FILTERED:
            result.filtered += 1
        elif state is PortState.DENIED:
            result.denied += 1
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        if state is PortState.UNREACHABLE and host not in result.responded:
            result.unreachable.add(host)
            return False
        return True

    # Rotate each host's port list by a different offset: the per-host workers of consecutive
    # hosts then start on different services, which spreads the load over the daemons.
    work = [
        (h, [p for p in rotated(port_list, i * per_host) if known.get(h, (None,))[0] != p])
        for i, h in enumerate(hosts)
    ]
    await run_per_host(work, probe, global_limit=global_limit, per_host=per_host)
    if on_progress is not None and done < total:
        on_progress(total, total)  # the ports of abandoned (unreachable) hosts
    for host_ports in result.open_ports.values():
        host_ports.sort()
    result.duration_s = time.monotonic() - start
    return result
