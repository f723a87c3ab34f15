"""The TCP sweep: which (address, port) pairs have a listener.

One event loop (epoll, in a worker thread) drives every probe; a probe is a half-open SYN
through a raw socket when running as root (``scanner.discovery.syn_io``: no connection is ever
completed, so forking daemons never fork) and a non-blocking connect otherwise or for IPv6
(``scanner.discovery.connect_io``). Both are bounded the same way:

- **Timeouts from round trips** (``scanner.discovery.rtt``, RFC 6298): per host, SRTT + 4 RTTVAR
  from the answers seen (seeded from the ARP or ping answer), clamped to [100 ms, the profile's
  connect timeout]; doubled for each retry. A filtered port on a LAN costs 100 ms, not seconds;
  a slow WAN host still gets its time.
- **Retries only where they can change the answer.** A SYN-ACK, a RST or an ICMP error is an
  answer and is never asked again; only silence is retried, because only silence can be a lost
  SYN. A host that never sent a RST (it answered on a few ports, or on none: a default-drop
  firewall) gets a *canary* retry of a few silent ports at four times the timeout; if none of them
  answers, its silences are its firewall's policy and are not asked again. Elsewhere the silent
  ports get one retry; a further one (up to ``retries``) only once some retry in the sweep has
  found a port the first attempt missed (loss is happening: forking daemons under load drop SYNs
  when their backlogs overflow, docs/lab-notes.md). A port that answered in any attempt is open.
- **Gentleness per host**: at most ``window`` probes in flight per host, starting at the
  profile's per-host limit and growing by one per answer (TCP slow start, RFC 5681 §3.1) up to
  ``max_window``; halved when a retry shows that this host dropped a SYN. Silence from a host
  that has never refused anything (a default-drop firewall: our SYNs cost it a rule lookup)
  grows the window too. Each host's port list is rotated by a different offset and hosts are
  served round-robin, one probe at a time, so that the probes in flight are spread over many
  daemons rather than queued at one.

Scope: ``sweep`` refuses the whole batch with ``OutOfScopeError`` before sending anything if one
address is outside the active scope; every connect and every raw ``sendto`` is also seen by the
scope guard's audit hook.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from scanner.discovery.connect_io import (
    LOCAL_ERRNOS,
    ConnectTransport,
    PortState,
    state_of,
)
from scanner.discovery.rtt import RttEstimator, TimeoutPolicy
from scanner.discovery.syn_io import SynAnswer, SynTransport, raw_syn_available
from scanner.scope.guard import require_in_scope

T = TypeVar("T")
SweepMode = Literal["auto", "syn", "connect"]

# Silent ports retried first on a host that never sent a RST, and how much longer they wait.
CANARY_PORTS = 8
CANARY_BACKOFF = 2  # retry level: the timeout doubled twice
# Ports a canary prefers: the ones most hosts answer on (host discovery's ping ports).
_CANARY_PREFERRED = (80, 443, 22, 445, 3389, 139, 135, 21, 23, 25)
# Largest per-host window (probes in flight to one host).
MAX_WINDOW = 64
# The global window never shrinks below this many probes in flight.
MIN_GLOBAL_WINDOW = 16
# A retry waits at least this long after its round: a listen backlog that overflowed has had
# time to drain (RFC 6298 §5.5: back off before retransmitting).
RETRY_DELAY = 0.2
# A retried connect waits at least this long: Linux retransmits the SYN itself after 1 s
# (RFC 6298 §2.1), and a SYN dropped by a full backlog is often answered then.
CONNECT_RETRY_TIMEOUT = 1.25
# Pause after a local shortage (no descriptor, port or buffer to spare), and how many in a row
# are tolerated before the pair is given up as unanswerable from here.
_STALL = 0.02
_MAX_STALLS = 500
# Progress callbacks at most this often (seconds): the CLI redraws on each.
_PROGRESS_EVERY = 0.1

ProgressFn = Callable[[int, int], None]
_ANSWER_STATES = {"open": PortState.OPEN, "closed": PortState.CLOSED, "unreachable": PortState.UNREACHABLE}


def rotated(items: Sequence[T], offset: int) -> list[T]:
    """``items`` starting at ``offset`` (mod len), wrapping around."""
    if not items:
        return []
    k = offset % len(items)
    return [*items[k:], *items[:k]]


@dataclass
class SweepResult:
    """What the sweep established."""

    open_ports: dict[str, list[int]] = field(default_factory=dict)  # sorted per host
    responded: set[str] = field(default_factory=set)  # answered at least once (open or RST)
    unreachable: set[str] = field(default_factory=set)
    filtered: int = 0  # (address, port) pairs that never answered
    denied: int = 0
    probes: int = 0  # SYNs or connects sent
    retried: int = 0  # pairs given at least one retry
    recovered: int = 0  # pairs that answered only on a retry
    policy_silent: set[str] = field(default_factory=set)  # default-drop hosts (canary confirmed)
    mode: str = "connect"  # "syn" | "connect"
    rounds: int = 0  # most retry rounds any host had
    peak_window: int = 0
    local_failures: int = 0  # pairs given up because no socket/port/buffer could be had
    global_cuts: int = 0  # times lost SYNs halved the global window
    srtt: dict[str, float] = field(default_factory=dict)  # per answering host, seconds
    duration_s: float = 0.0

    @property
    def connects(self) -> int:  # older name, kept for the notes and tests
        return self.probes


class _Host:
    """One host's progress through the sweep."""

    __slots__ = ("accepted", "address", "answered", "base", "canaried", "canary", "done", "index", "inflight",
                 "parked", "policy", "ports", "prepared", "queue", "queued", "recovered", "refused", "round", "rtt",
                 "silent", "skip", "ssthresh", "transport", "unreachable", "wake_at", "window")

    def __init__(self, address: str, index: int, ports: list[int], window: float, transport: str) -> None:
        self.address = address
        self.index = index
        self.ports = ports  # the first pass, in this host's rotated order (consumed from the end)
        self.inflight = 0
        self.window = window
        self.ssthresh = float(MAX_WINDOW)
        self.rtt = RttEstimator()
        self.base = 0.0  # current first-attempt timeout (refreshed from rtt)
        self.refused = 0  # RSTs and ICMP errors: a host that refuses is not a default-drop firewall
        self.accepted = 0
        self.answered = 0
        self.recovered = 0
        self.silent: dict[int, tuple[int, float]] = {}  # port -> (attempts made, last sent at)
        self.queue: deque[tuple[int, int, int]] = deque()  # (port, attempt, retry level) to send
        self.round = 0
        self.canary = False  # a canary is in progress
        self.canaried = False  # ... or was
        self.policy = False  # its silences are a default-drop firewall's
        self.parked = False  # finished before loss was seen anywhere: may get another round
        self.done = False
        self.unreachable = False
        self.skip: set[int] = set()  # ports already established (by the TCP ping)
        self.wake_at = 0.0
        self.transport = transport
        self.queued = False  # in the engine's ready queue
        self.prepared: tuple[int, int] = (0, 0)  # the packet transport's per-host state

    def has_work(self) -> bool:
        return bool(self.ports) or bool(self.queue)


class _Engine:
    """The event loop of one sweep (synchronous; ``sweep`` runs it in a worker thread)."""

    def __init__(self, hosts: list[_Host], *, total: int, global_limit: int, max_window: int,
                 initial_window: float, timeouts: TimeoutPolicy, retries: int, syn: PacketTransport | None,
                 on_progress: ProgressFn | None, result: SweepResult, seeds: Mapping[str, float],
                 on_open: Callable[[str, int], None] | None = None, stop: threading.Event | None = None) -> None:
        self.on_open = on_open
        self.stop = stop  # set when the caller gives up (an interrupt): the loop ends within one poll
        self.hosts = hosts
        self.pending = deque(hosts)  # not yet started
        self.ready: deque[_Host] = deque()
        self.total = total
        self.global_limit = max(1, global_limit)
        self.max_window = max(1, max_window)
        self.initial_window = max(1.0, min(initial_window, float(self.max_window)))
        self.timeouts = timeouts
        self.retries = max(0, retries)
        self.syn = syn
        self.on_progress = on_progress
        self.result = result
        self.seeds = seeds
        self.overall = RttEstimator()
        self.poller = select.epoll()
        self.connect = ConnectTransport(self.poller)
        if syn is not None:
            for fd in syn.filenos():
                self.poller.register(fd, select.EPOLLIN)
        # In flight: (address, port) -> (host, attempt, sent at, socket or None)
        # In flight, keyed by host index << 16 | port: (host, port, attempt, sent at, socket or None).
        self.inflight: dict[int, tuple[_Host, int, int, float, socket.socket | None]] = {}
        # Timeouts, one FIFO per timeout value (rounded up to 10 ms): probes are sent in time
        # order, so each FIFO is sorted by deadline without a heap. (deadline, key, attempt)
        self.timers: dict[float, deque[tuple[float, int, int]]] = {}
        self.wakes: list[tuple[float, int, int]] = []  # (time, serial, host index)
        self.by_address = {h.address: h for h in hosts}
        self.by_number: dict[int, _Host] = {}
        self.serial = 0
        self.loss_seen = False
        self.parked: list[_Host] = []
        self.done_pairs = 0
        self.last_progress = 0.0
        self.stall_until = 0.0
        self.stalls = 0
        self.live_hosts = 0
        # Global congestion window (RFC 5681 §3.1): probes in flight over all hosts. Hosts that
        # share daemons (one server behind many addresses, as the dense lab) overflow its
        # backlog together: a lost SYN halves it, clean answers grow it back.
        self.gwin = float(self.global_limit)
        self.last_cut = 0.0

    # ------------------------------------------------------------------ scheduling

    def _activate(self) -> _Host | None:
        while self.pending:
            host = self.pending.popleft()
            if host.transport == "syn":
                assert self.syn is not None
                host.prepared = self.syn.prepare(host.address)
                self.by_number[host.prepared[1]] = host
            seed = self.seeds.get(host.address)
            if seed is not None:
                host.rtt.add(seed)
            host.base = self.timeouts.base(host.rtt if host.rtt.samples else None, self.overall)
            self.live_hosts += 1
            if host.has_work():
                return host
            self._advance(host)
            if host.has_work():
                return host
        return None

    def _next_ready(self, now: float) -> _Host | None:
        while self.ready:
            host = self.ready.popleft()
            host.queued = False
            if host.done or host.inflight >= int(host.window):
                continue
            if host.ports or (host.queue and host.wake_at <= now):
                return host
        return self._activate()

    def _take(self, host: _Host, now: float) -> tuple[int, int, int]:
        """The host's next (port, attempt, retry level): a due retry first (a canary runs
        during the first pass), else the next port of the first pass."""
        if host.queue and (host.wake_at <= now or not host.ports):
            return host.queue.popleft()
        return host.ports.pop(), 0, 0

    def _mark_ready(self, host: _Host) -> None:
        if not host.queued and not host.done and (host.ports or host.queue) and host.inflight < host.window:
            host.queued = True
            self.ready.append(host)

    def _settle(self, host: _Host) -> None:
        """After any change to a host: start its next round when this one is over, and put it
        back in the ready queue when it may send."""
        if not host.inflight and not host.ports and not host.queue:
            self._advance(host)
        self._mark_ready(host)

    def _send(self, host: _Host, now: float) -> None:
        port, attempt, level = self._take(host, now)
        if port in host.skip or (attempt > 0 and port not in host.silent):
            self._settle(host)
            return
        timeout = self.timeouts.attempt(host.base, level) if level else host.base
        if level and host.transport == "connect":
            timeout = max(timeout, min(CONNECT_RETRY_TIMEOUT, self.timeouts.ceiling))
        handle: socket.socket | None = None
        try:
            if host.transport == "syn":
                assert self.syn is not None
                err = self.syn.send(host.prepared, host.address, port, attempt)
                if err in LOCAL_ERRNOS:
                    raise OSError(err, "no buffer for the SYN")
                err = -1 if err == 0 else err
            else:
                err, handle = self.connect.start(host.address, port, attempt)
        except OSError as exc:
            if exc.errno not in LOCAL_ERRNOS:
                raise
            # Not an answer from the target: put the pair back and pause sending a little.
            self.stalls += 1
            if self.stalls > _MAX_STALLS:
                self.result.local_failures += 1
                if attempt == 0:
                    self._count_done()
            elif attempt == 0:
                host.ports.append(port)
            else:
                host.queue.appendleft((port, attempt, level))
            self.stall_until = now + _STALL
            self._settle(host)
            return
        self.stalls = 0
        self.result.probes += 1
        if attempt == 1:
            self.result.retried += 1
        if err >= 0:  # an immediate answer (refused at once, no route, ...)
            self._answer(host, port, state_of(err), None, "first" if attempt == 0 else "retry")
            self._settle(host)
            return
        host.inflight += 1
        key = host.index << 16 | port
        self.inflight[key] = (host, port, attempt, now, handle)
        bucket = math.ceil(timeout * 100) / 100
        fifo = self.timers.get(bucket)
        if fifo is None:
            fifo = self.timers[bucket] = deque()
        fifo.append((now + bucket, key, attempt))
        self._mark_ready(host)

    # ------------------------------------------------------------------ outcomes

    def _answer(self, host: _Host, port: int, state: PortState, rtt: float | None, kind: str) -> None:
        """A final answer for (host, port). ``kind``: "first" (the first attempt, in time),
        "retry" (a retry answered: the earlier SYN was lost) or "late" (an earlier attempt
        answered after its timeout: the timeout was short, nothing was lost)."""
        result = self.result
        if rtt is not None and (host.answered < 32 or not host.answered & 7):
            estimate = host.rtt
            estimate.add(rtt)
            # A settled host is sampled once in eight answers, the shared estimate needs only a
            # host's first few, and the timeout is recomputed every eighth sample (RFC 6298
            # §2.3: any rate of at least one sample per round trip will do).
            if estimate.samples <= 16:
                self.overall.add(rtt)
            if estimate.samples <= 8 or not estimate.samples & 7:
                host.base = self.timeouts.base(estimate, self.overall)
        host.silent.pop(port, None)
        if kind == "first":
            self._count_done()
        if state is PortState.UNREACHABLE:
            if host.address not in result.responded:
                host.unreachable = True
                result.unreachable.add(host.address)
                self._drop_host(host)
            return
        if state is PortState.DENIED:
            result.denied += 1
            host.refused += 1
        else:
            if not host.answered:
                result.responded.add(host.address)
            host.answered += 1
            if state is PortState.OPEN:
                host.accepted += 1
                result.open_ports.setdefault(host.address, []).append(port)
                if self.on_open is not None:
                    self.on_open(host.address, port)
            else:
                host.refused += 1
        if kind == "first" or kind == "late":
            if host.window < self.max_window:
                host.window += 1.0 if host.window < host.ssthresh else 1.0 / host.window
            if self.gwin < self.global_limit:
                self.gwin = min(float(self.global_limit), self.gwin + 1.0 / self.gwin)
            return
        result.recovered += 1
        host.recovered += 1
        if not host.canary:
            self.loss_seen = True
            # This host dropped a SYN: halve its window (RFC 5681 §3.1 multiplicative decrease),
            # and the global one, at most once per round trip (one loss event, many losses).
            host.ssthresh = max(self.initial_window, host.window / 2)
            host.window = host.ssthresh
            now = time.monotonic()
            if now - self.last_cut > host.base:
                self.last_cut = now
                self.gwin = max(float(min(MIN_GLOBAL_WINDOW, self.global_limit)), self.gwin / 2)
                result.global_cuts += 1

    def _silence(self, host: _Host, port: int, attempt: int, sent: float) -> None:
        host.silent[port] = (attempt + 1, sent)
        if host.refused == 0 and host.recovered == 0 and host.window < self.max_window:
            host.window += 1.0  # a default-drop firewall: silence costs the host nothing
        if attempt == 0:
            self._count_done()
            if (host.round == 0 and not host.canary and not host.canaried and host.refused == 0
                    and len(host.silent) >= CANARY_PORTS):
                self._start_canary(host)

    def _start_canary(self, host: _Host) -> None:
        """No RST from this host yet, only silence: a default-drop firewall, or a host slower
        than our timeout. A few silent ports asked again at four times the timeout tell which;
        they go out at once, alongside the rest of the first pass."""
        chosen = [p for p in _CANARY_PREFERRED if p in host.silent]
        chosen += [p for p in host.silent if p not in chosen][: max(0, CANARY_PORTS - len(chosen))]
        host.canary = host.canaried = True
        host.queue.extend((p, host.silent[p][0], CANARY_BACKOFF) for p in chosen[:CANARY_PORTS])
        host.wake_at = 0.0

    def _count_done(self) -> None:
        """Progress counts the first pass: each pair once, answered or silent."""
        self.done_pairs += 1
        if self.on_progress is not None and not self.done_pairs & 63:
            now = time.monotonic()
            if now - self.last_progress >= _PROGRESS_EVERY:
                self.last_progress = now
                self.on_progress(min(self.done_pairs, self.total), self.total)

    def _drop_host(self, host: _Host) -> None:
        host.ports.clear()
        host.queue.clear()
        host.silent.clear()
        host.done = True

    # ------------------------------------------------------------------ retry rounds

    def _advance(self, host: _Host) -> None:
        """The host's current round is over: decide whether its silent ports get another."""
        if host.done or host.inflight or host.has_work():
            return
        if host.unreachable or not host.silent:
            host.done = True
            return
        if host.canary:
            host.canary = False
            if host.recovered == 0 and host.refused == 0:
                # The canary heard nothing either: these silences are the host's firewall.
                host.policy = True
                self.result.policy_silent.add(host.address)
                host.done = True
                return
        elif host.round == 0 and host.refused == 0 and not host.canaried:
            self._start_canary(host)  # fewer silent ports than a canary: all of them
            return
        if host.round >= self.retries or (host.round >= 1 and not self.loss_seen and host.recovered == 0):
            if host.round < self.retries and not host.policy:
                host.parked = True  # loss may yet be seen elsewhere: see _unpark
                self.parked.append(host)
            host.done = True
            return
        host.round += 1
        self.result.rounds = max(self.result.rounds, host.round)
        host.queue.extend((p, attempts, host.round) for p, (attempts, _sent) in host.silent.items())
        self._schedule(host)

    def _schedule(self, host: _Host) -> None:
        # A retry waits one current timeout after the round: a backlog that dropped the SYN has
        # had time to drain (RFC 6298 §5.5: back off before retransmitting).
        host.wake_at = time.monotonic() + max(host.base, RETRY_DELAY)
        self.serial += 1
        heapq.heappush(self.wakes, (host.wake_at, self.serial, host.index))

    def _unpark(self) -> None:
        for host in self.parked:
            host.done = False
            host.parked = False
            self._settle(host)
        self.parked.clear()

    # ------------------------------------------------------------------ the loop

    def _expire(self, now: float) -> None:
        inflight = self.inflight
        for fifo in self.timers.values():
            while fifo and fifo[0][0] <= now:
                _deadline, key, attempt = fifo.popleft()
                entry = inflight.get(key)
                if entry is None or entry[2] != attempt:
                    continue  # answered meanwhile
                del inflight[key]
                host, port, _attempt, sent, handle = entry
                if handle is not None:
                    self.connect.abandon(handle)
                host.inflight -= 1
                self._silence(host, port, attempt, sent)
                self._settle(host)
        wakes = self.wakes
        while wakes and wakes[0][0] <= now:
            _when, _serial, index = heapq.heappop(wakes)
            self._mark_ready(self.hosts[index])

    def _received(self, host: _Host, port: int, attempt: int | None, state: PortState, now: float) -> None:
        """An answer from the network; ``attempt``: which attempt it answers, when known."""
        key = host.index << 16 | port
        entry = self.inflight.get(key)
        if entry is not None and (attempt is None or attempt == entry[2]):
            del self.inflight[key]
            _host, _port, sent_attempt, sent, _handle = entry
            host.inflight -= 1
            # Karn (RFC 6298 §3): a sample only from the attempt that was answered.
            self._answer(host, port, state, now - sent if attempt is not None or sent_attempt == 0 else None,
                         "first" if sent_attempt == 0 else "retry")
        elif port in host.silent or entry is not None:
            # An earlier attempt answered after its timeout: still an answer (the port answered
            # once, so it is open), and a round-trip sample when it answers the last SYN sent.
            if entry is not None:
                del self.inflight[key]
                host.inflight -= 1
                if entry[4] is not None:
                    self.connect.abandon(entry[4])
            attempts, sent = host.silent.get(port, (0, now))
            rtt = now - sent if entry is None and attempt is not None and attempt == attempts - 1 else None
            self._answer(host, port, state, rtt, "late")
        else:
            return
        self._settle(host)

    def _poll(self, timeout: float) -> None:
        now_events = self.poller.poll(max(0.0, timeout))
        now = time.monotonic()
        for fd, _events in now_events:
            if self.syn is not None and fd in self.syn.filenos():
                received, by_number = self._received, self.by_number
                for number, port, kind, attempt in self.syn.answers(fd):
                    host = by_number.get(number)
                    if host is not None:
                        received(host, port, attempt, _ANSWER_STATES.get(kind, PortState.DENIED), now)
                continue
            finished = self.connect.finished(fd)
            if finished is not None:
                address, port, attempt, err = finished
                host = self.by_address.get(address)
                if host is not None:
                    self._received(host, port, attempt, state_of(err), now)

    def run(self) -> None:
        try:
            while self.stop is None or not self.stop.is_set():
                now = time.monotonic()
                self._expire(now)
                if self.loss_seen and self.parked:
                    self._unpark()
                while len(self.inflight) < int(self.gwin) and now >= self.stall_until:
                    host = self._next_ready(now)
                    if host is None:
                        break
                    self._send(host, now)
                if not self.inflight and not self.ready and not self.pending and not self.wakes:
                    break
                deadlines = [fifo[0][0] for fifo in self.timers.values() if fifo]
                if self.wakes:
                    deadlines.append(self.wakes[0][0])
                if now < self.stall_until:
                    deadlines.append(self.stall_until)
                wait = (min(deadlines) - time.monotonic()) if deadlines else 0.05
                self._poll(min(max(wait, 0.0), 0.5))
        finally:
            self.connect.close()
            self.poller.close()
        for host in self.hosts:
            self.result.peak_window = max(self.result.peak_window, int(host.window))
            self.result.filtered += len(host.silent)
            if host.rtt.srtt is not None and host.answered:
                self.result.srtt[host.address] = host.rtt.srtt


class PacketTransport(Protocol):
    """What the engine needs of a packet transport (``SynTransport``; tests pass their own)."""

    def filenos(self) -> tuple[int, ...]: ...
    def prepare(self, address: str) -> tuple[int, int]: ...
    def send(self, prepared: tuple[int, int], address: str, port: int, attempt: int) -> int: ...
    def answers(self, fd: int) -> Iterator[SynAnswer]: ...
    def close(self) -> None: ...


def _transport_for(address: str, syn: PacketTransport | None) -> str:
    if syn is None or ":" in address:
        return "connect"
    return "syn"


def run_sweep(
    addresses: Iterable[str],
    ports: Sequence[int],
    *,
    global_limit: int,
    per_host: int,
    connect_timeout: float,
    retries: int,
    mode: SweepMode = "auto",
    max_window: int = MAX_WINDOW,
    known: Mapping[str, tuple[int, bool]] | None = None,
    seeds: Mapping[str, float] | None = None,
    on_progress: ProgressFn | None = None,
    packets: PacketTransport | None = None,
    on_open: Callable[[str, int], None] | None = None,
    stop: threading.Event | None = None,
) -> SweepResult:
    """The sweep, synchronously (see ``sweep``). ``packets``: a packet transport to use instead
    of opening a ``SynTransport`` (tests). ``stop``: once set, the sweep ends within one poll
    (half a second at most) and returns what it found so far."""
    hosts_in = list(dict.fromkeys(addresses))
    for address in hosts_in:
        require_in_scope(address)
    port_list = list(dict.fromkeys(ports))
    result = SweepResult()
    start = time.monotonic()
    syn: PacketTransport | None = packets
    if syn is None and (mode == "syn" or (mode == "auto" and any(":" not in a for a in hosts_in)
                                          and raw_syn_available())):
        syn = SynTransport()  # ProbePermissionError when "syn" was asked for without the right
    result.mode = "syn" if syn is not None else "connect"
    known = known or {}
    hosts: list[_Host] = []
    done_known = 0
    for i, address in enumerate(hosts_in):
        # Rotate each host's port list by a different offset: consecutive hosts start on
        # different services, which spreads the load over the daemons (the dense lab's
        # addresses share theirs). Stored reversed: the next port is popped from the end.
        order = rotated(port_list, i * max(1, per_host))
        order.reverse()
        host = _Host(address, i, order, float(per_host), _transport_for(address, syn))
        answer = known.get(address)
        if answer is not None and answer[0] in port_list:
            port, is_open = answer
            host.skip.add(port)
            result.responded.add(address)
            done_known += 1
            if is_open:
                result.open_ports.setdefault(address, []).append(port)
        hosts.append(host)
    engine = _Engine(hosts, total=len(hosts) * len(port_list), global_limit=global_limit, max_window=max_window,
                     initial_window=float(per_host), timeouts=TimeoutPolicy(ceiling=connect_timeout),
                     retries=retries, syn=syn, on_progress=on_progress, result=result, seeds=seeds or {},
                     on_open=on_open, stop=stop)
    engine.done_pairs = done_known
    try:
        engine.run()
    finally:
        if syn is not None and packets is None:
            syn.close()
    for host_ports in result.open_ports.values():
        host_ports.sort()
    if on_progress is not None:
        on_progress(engine.total, engine.total)
    result.duration_s = time.monotonic() - start
    return result


async def sweep(
    addresses: Iterable[str],
    ports: Sequence[int],
    *,
    global_limit: int,
    per_host: int,
    connect_timeout: float,
    retries: int,
    mode: SweepMode = "auto",
    max_window: int = MAX_WINDOW,
    known: Mapping[str, tuple[int, bool]] | None = None,
    seeds: Mapping[str, float] | None = None,
    on_progress: ProgressFn | None = None,
    on_open: Callable[[str, int], None] | None = None,
) -> SweepResult:
    """TCP sweep of ``ports`` on every address, in a worker thread.

    ``mode``: "syn" (half-open, raw socket: needs root), "connect", or "auto" (SYN for IPv4
    when raw sockets are permitted). ``per_host``: the starting per-host window (the profile's
    gentle limit), which grows to ``max_window`` on a host that answers cleanly. ``known``:
    {address: (port, open)} already established by the TCP ping (not asked again). ``seeds``:
    {address: round-trip seconds} from host discovery, the first RTT sample of each host.
    ``on_open(address, port)``: called (from the worker thread) for each port found open.
    ``connect_timeout``: the ceiling of one attempt's timeout (see ``scanner.discovery.rtt``).

    Refuses the whole batch with ``OutOfScopeError`` before sending anything if one address is
    outside the active scope. ``ProbePermissionError`` when ``mode="syn"`` without raw sockets.
    """
    # Cancelled (an interrupt ends discovery's event loop), the worker thread is told to stop:
    # asyncio.run waits for its threads on the way out, and must not wait for a whole sweep.
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            run_sweep, addresses, ports, global_limit=global_limit, per_host=per_host,
            connect_timeout=connect_timeout, retries=retries, mode=mode, max_window=max_window, known=known,
            seeds=seeds, on_progress=on_progress, on_open=on_open, stop=stop)
    finally:
        stop.set()
