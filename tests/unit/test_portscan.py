"""The TCP sweep: real listeners on 127.0.0.x (connect and, as root, SYN probes), and the retry
and window rules driven through a scripted packet transport (silence cannot be produced on
loopback without root and a firewall: the lab's firewalled hosts cover that for real)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from scanner.discovery import tcp_sweep as portscan
from scanner.discovery.connect_io import PortState, connect_once
from scanner.discovery.rtt import RttEstimator, TimeoutPolicy
from scanner.discovery.syn_io import SynAnswer, raw_syn_available
from scanner.discovery.tcp_sweep import run_sweep, sweep
from scanner.errors import OutOfScopeError
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope

needs_raw = pytest.mark.skipif(not raw_syn_available(), reason="SYN probes need root (raw sockets)")


@contextmanager
def listener(address: str, backlog: int = 16) -> Iterator[socket.socket]:
    """A listening socket that never accepts unless the test does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 0))
    sock.listen(backlog)
    try:
        yield sock
    finally:
        sock.close()


def closed_port(address: str) -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def nothing_connected(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


# ---------------------------------------------------------------- real listeners


@pytest.mark.parametrize("mode", ["connect", pytest.param("syn", marks=needs_raw)])
def test_open_and_closed_ports_and_liveness(mode: str) -> None:
    with listener("127.0.0.2") as lsock:
        open_port = lsock.getsockname()[1]
        shut = closed_port("127.0.0.2")
        with enforce(build_scope(["127.0.0.2"])):
            result = asyncio.run(sweep(["127.0.0.2"], [open_port, shut], global_limit=8, per_host=2,
                                       connect_timeout=2, retries=1, mode=mode))  # type: ignore[arg-type]
        if mode == "syn":
            assert nothing_connected(lsock)  # half-open: the daemon never gets a connection
    assert result.mode == mode
    assert result.open_ports == {"127.0.0.2": [open_port]}
    assert result.responded == {"127.0.0.2"}
    assert result.filtered == 0 and result.retried == 0
    assert result.probes == 2  # a refusal is an answer: never asked again
    assert "127.0.0.2" in result.srtt


def test_connect_closes_with_reset_leaving_no_time_wait() -> None:
    with listener("127.0.0.2") as lsock, enforce(build_scope(["127.0.0.2"])):
        port = lsock.getsockname()[1]
        outcome = asyncio.run(connect_once("127.0.0.2", port, 2.0))
        conn, _ = lsock.accept()
        conn.settimeout(2)
        with pytest.raises(ConnectionResetError):
            conn.recv(1)  # the close was an RST, not a FIN (which would read b"")
        conn.close()
    assert outcome.state is PortState.OPEN
    assert outcome.rtt is not None and outcome.rtt < 1


@pytest.mark.parametrize("mode", ["connect", pytest.param("syn", marks=needs_raw)])
def test_dropped_syns_are_found_by_a_retry(mode: str) -> None:
    """A listener with a full accept queue drops SYNs (Linux: tcp_conn_request -> drop), like a
    forking daemon under a sweep. Its neighbour port refuses (so the host is no firewall) and
    the silent port is retried; once the daemon drains its queue, the retry finds it."""
    with listener("127.0.0.2", backlog=0) as lsock:
        port = lsock.getsockname()[1]
        fillers = []
        for _ in range(2):  # backlog 0 admits one connection: keep the queue full
            filler = socket.socket()
            filler.settimeout(0.3)
            with contextlib.suppress(OSError):
                filler.connect(("127.0.0.2", port))
            fillers.append(filler)

        def drain_later() -> None:
            time.sleep(0.15)
            lsock.settimeout(1)
            for _ in range(3):
                try:
                    conn, _ = lsock.accept()
                    conn.close()
                except OSError:
                    break

        drainer = threading.Thread(target=drain_later)
        try:
            with enforce(build_scope(["127.0.0.2"])):
                drainer.start()
                result = run_sweep(["127.0.0.2"], [port, closed_port("127.0.0.2")], global_limit=4, per_host=2,
                                   connect_timeout=0.5, retries=2, mode=mode)  # type: ignore[arg-type]
        finally:
            drainer.join()
            for filler in fillers:
                filler.close()
    assert result.open_ports == {"127.0.0.2": [port]}
    assert result.recovered == 1 and result.retried == 1 and result.filtered == 0


def test_out_of_scope_refused_before_any_connect() -> None:
    with listener("127.0.0.9") as outside, listener("127.0.0.2") as inside:
        with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
            asyncio.run(sweep(["127.0.0.2", "127.0.0.9"], [outside.getsockname()[1], inside.getsockname()[1]],
                              global_limit=4, per_host=2, connect_timeout=1, retries=0, mode="connect"))
        assert nothing_connected(outside)
        assert nothing_connected(inside)  # refused up front: not even the in-scope address was contacted


def test_audit_hook_stops_a_direct_connect() -> None:
    with listener("127.0.0.9") as outside:
        with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
            asyncio.run(connect_once("127.0.0.9", outside.getsockname()[1], 1.0))
        assert nothing_connected(outside)


@needs_raw
def test_audit_hook_stops_a_raw_syn() -> None:
    from scanner.discovery.syn_io import SynTransport

    transport = SynTransport()
    try:
        with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
            transport.tcp.sendto(b"\x00" * 24, ("127.0.0.9", 0))  # below require_in_scope: the hook
    finally:
        transport.close()


def test_ipv6_loopback_uses_connects() -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    try:
        with enforce(build_scope(["::1"])):
            result = run_sweep(["::1"], [port, closed_port("127.0.0.2")], global_limit=4, per_host=2,
                               connect_timeout=1, retries=0)
    finally:
        sock.close()
    assert result.open_ports == {"::1": [port]}


def test_known_answers_are_not_asked_again() -> None:
    with listener("127.0.0.2") as lsock, enforce(build_scope(["127.0.0.2"])):
        port = lsock.getsockname()[1]
        result = run_sweep(["127.0.0.2"], [port, closed_port("127.0.0.2")], global_limit=4, per_host=2,
                           connect_timeout=1, retries=0, mode="connect", known={"127.0.0.2": (port, True)})
    assert result.open_ports == {"127.0.0.2": [port]} and result.probes == 1


def test_rotation() -> None:
    assert portscan.rotated([1, 2, 3, 4], 5) == [2, 3, 4, 1]
    assert portscan.rotated([], 3) == []


# ---------------------------------------------------------------- the timeout model


def test_rtt_estimator_follows_rfc_6298() -> None:
    est = RttEstimator()
    assert est.rto() is None
    est.add(0.100)
    assert est.srtt == pytest.approx(0.100) and est.rttvar == pytest.approx(0.050)
    assert est.rto() == pytest.approx(0.300)  # SRTT + 4 * RTTVAR (§2.2)
    est.add(0.200)  # §2.3: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, then SRTT = 7/8 SRTT + 1/8 R'
    assert est.rttvar == pytest.approx(0.75 * 0.050 + 0.25 * 0.100)
    assert est.srtt == pytest.approx(0.875 * 0.100 + 0.125 * 0.200)


def test_timeouts_are_clamped_and_back_off() -> None:
    policy = TimeoutPolicy(ceiling=5.0)
    lan = RttEstimator()
    lan.add(0.0004)
    assert policy.base(lan) == 0.1  # a LAN's estimate is far below the floor
    wan = RttEstimator()
    wan.add(0.8)
    assert policy.base(wan) == pytest.approx(2.4)  # a slow path gets its time
    slower = RttEstimator()
    slower.add(3.0)
    assert policy.base(slower) == 5.0  # ... up to the ceiling
    assert policy.base(None) == 1.0 and policy.base(None, lan) == 0.1  # initial RTO, or the others'
    assert [policy.attempt(0.1, r) for r in range(3)] == [0.1, 0.2, 0.4]  # §5.5 doubling
    assert policy.attempt(2.4, 2) == 5.0


# ---------------------------------------------------------------- retry and window rules

Script = Callable[[str, int, int], str | None]  # (address, port, attempt) -> "open" | "closed" | None


class ScriptedPackets:
    """A packet transport whose answers follow a script; answers are ready at once (or never)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self._due: list[SynAnswer] = []
        self.sent: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()

    def filenos(self) -> tuple[int, ...]:
        return (self._read,)

    def prepare(self, address: str) -> tuple[int, int]:
        return 0, int(ipaddress.ip_address(address))

    def send(self, prepared: tuple[int, int], address: str, port: int, attempt: int) -> int:
        self.sent.append((address, port, attempt))
        kind = self.script(address, port, attempt)
        if kind is not None:
            self._due.append((prepared[1], port, kind, attempt))
            os.write(self._write, b"x")
        return 0

    def answers(self, fd: int) -> Iterator[SynAnswer]:
        with contextlib.suppress(BlockingIOError):
            os.read(self._read, 65536)
        due, self._due = self._due, []
        yield from due

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)

    def attempts(self, address: str, port: int) -> int:
        return sum(1 for a, p, _ in self.sent if (a, p) == (address, port))


PORTS = list(range(1, 201))
FIREWALL, SERVER, LOSSY = "127.0.0.11", "127.0.0.12", "127.0.0.13"


def scripted_sweep(addresses: list[str], script: Script, retries: int = 2, **kw: object) -> tuple[
        portscan.SweepResult, ScriptedPackets]:
    packets = ScriptedPackets(script)
    try:
        with enforce(build_scope(addresses)):
            result = run_sweep(addresses, PORTS, global_limit=64, per_host=4, connect_timeout=1.0, retries=retries,
                               packets=packets, seeds=dict.fromkeys(addresses, 0.001), **kw)  # type: ignore[arg-type]
    finally:
        packets.close()
    return result, packets


def test_a_default_drop_host_gets_a_canary_and_no_retries() -> None:
    """A host that only ever answers on 22 and is silent elsewhere (a firewall with one rule):
    eight silent ports are asked again at four times the timeout; nothing answers, so its
    silences are its policy and the other 191 are never asked again."""
    result, packets = scripted_sweep([FIREWALL], lambda a, p, n: "open" if p == 22 else None)
    assert result.open_ports == {FIREWALL: [22]}
    assert result.policy_silent == {FIREWALL}
    assert result.filtered == 199
    assert len(packets.sent) == 200 + portscan.CANARY_PORTS
    canary = {p for _a, p, n in packets.sent if n == 1}
    assert len(canary) == portscan.CANARY_PORTS and 22 not in canary
    assert result.peak_window == portscan.MAX_WINDOW  # silence costs a drop-all host nothing: the window grew


def test_a_slow_host_is_found_by_its_canary() -> None:
    """A host that answers nothing in time on the first pass, but does answer (RST) a longer
    wait: the canary answers, so every silent port is asked again and found."""
    result, _ = scripted_sweep([FIREWALL], lambda a, p, n: None if n == 0 else ("open" if p == 80 else "closed"))
    assert FIREWALL not in result.policy_silent
    assert result.open_ports == {FIREWALL: [80]} and result.filtered == 0


def test_silence_on_a_host_that_refuses_is_retried_once_without_evidence_of_loss() -> None:
    result, packets = scripted_sweep([SERVER], lambda a, p, n: None if p in (5, 6) else "closed")
    assert packets.attempts(SERVER, 5) == 2  # one retry: silence there may be a lost SYN
    assert result.filtered == 2 and result.recovered == 0 and result.rounds == 1


def test_loss_anywhere_earns_every_silent_port_its_further_retries() -> None:
    """LOSSY drops port 7's first SYN (answers the retry): loss is happening, so SERVER's
    ports 5 and 6, silent twice, get their second retry too (the one they could not get on
    the evidence of their own host)."""
    def script(address: str, port: int, attempt: int) -> str | None:
        if address == LOSSY and port == 7:
            return None if attempt == 0 else "open"
        if address == SERVER and port in (5, 6):
            return None
        return "closed"

    result, packets = scripted_sweep([SERVER, LOSSY], script)
    assert result.open_ports == {LOSSY: [7]} and result.recovered == 1
    assert packets.attempts(LOSSY, 7) == 2
    assert packets.attempts(SERVER, 5) == 3 == packets.attempts(SERVER, 6)
    assert result.rounds == 2


def test_retries_zero_means_one_attempt() -> None:
    result, packets = scripted_sweep([SERVER], lambda a, p, n: None if p == 5 else "closed", retries=0)
    assert packets.attempts(SERVER, 5) == 1 and result.filtered == 1


def test_window_starts_small_and_is_capped() -> None:
    result, _ = scripted_sweep([SERVER], lambda a, p, n: "closed", max_window=8)
    assert result.peak_window == 8
    result, _ = scripted_sweep([SERVER], lambda a, p, n: "closed", max_window=4)
    assert result.peak_window == 4


def test_unreachable_host_is_abandoned() -> None:
    result, packets = scripted_sweep([SERVER], lambda a, p, n: "unreachable")
    assert result.unreachable == {SERVER}
    assert len(packets.sent) <= 8  # the first window, not all 200 ports


def test_progress_reaches_the_total() -> None:
    seen: list[tuple[int, int]] = []
    scripted_sweep([SERVER, LOSSY], lambda a, p, n: "closed", on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (400, 400)


@needs_raw
def test_fast_syn_segments_are_the_reference_ones() -> None:
    """The sweep's incrementally summed SYN equals one built and checksummed from scratch (RFC
    9293 §3.1 pseudo-header); the live SYN tests above show the kernel and a listener accept it."""
    from scanner.discovery.syn_io import SynTransport, checksum, syn_segment

    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2 & 0xFFFF)  # RFC 1071 §3
    transport = SynTransport()
    try:
        with enforce(build_scope(["127.0.0.2"])):
            prepared = transport.prepare("127.0.0.2")
            for port in (1, 80, 445, 65535):
                for attempt in (0, 1, 7):
                    seq = transport.seq(prepared[1], port, attempt)
                    reference = syn_segment(socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.2"),
                                            transport.sport, port, seq)
                    assert transport.segment(prepared, port, attempt) == reference
                    assert seq & 0x0F == attempt  # the attempt rides in the sequence number
    finally:
        transport.close()


def test_a_stopped_sweep_returns_what_it_found_without_finishing() -> None:
    """An interrupt ends discovery's event loop, which waits for its worker threads: the sweep
    must stop when told (issue 15), not run on to the end of a large, silent network."""
    stop = threading.Event()
    found: list[tuple[str, int]] = []

    def opened(address: str, port: int) -> None:
        found.append((address, port))
        stop.set()  # the interrupt comes right after the first open port

    result, packets = scripted_sweep([SERVER], lambda a, p, n: "open" if p == 1 else None, on_open=opened, stop=stop)
    assert found == [(SERVER, 1)] and result.open_ports == {SERVER: [1]}
    # Every other port is silent: a full sweep asks each of them at least once and retries some.
    assert len(packets.sent) < len(PORTS)


def test_a_cancelled_sweep_tells_its_thread_to_stop() -> None:
    stopped: list[bool] = []
    original = portscan.run_sweep

    def spy(*args: object, **kw: object) -> portscan.SweepResult:
        stop = kw["stop"]
        assert isinstance(stop, threading.Event)
        stopped.append(stop.wait(10))  # set when the awaiting task is cancelled
        return portscan.SweepResult()

    async def cancel_it() -> None:
        task = asyncio.create_task(sweep(["127.0.0.1"], [1], global_limit=1, per_host=1, connect_timeout=1.0,
                                         retries=0))
        await asyncio.sleep(0.1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    portscan.run_sweep = spy  # type: ignore[assignment]
    try:
        with enforce(build_scope(["127.0.0.1"])):
            asyncio.run(cancel_it())
    finally:
        portscan.run_sweep = original  # type: ignore[assignment]
    assert stopped == [True]
