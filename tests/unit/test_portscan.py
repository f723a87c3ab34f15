"""The built-in connect sweep against real listeners on 127.0.0.x that each test opens itself."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from scanner.discovery import tcp_sweep as portscan
from scanner.discovery.tcp_sweep import (
    ConnectOutcome,
    PortState,
    connect_once,
    connect_with_retries,
    run_per_host,
    sweep,
)
from scanner.errors import OutOfScopeError
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope


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


def test_open_and_closed_ports_and_liveness() -> None:
    with listener("127.0.0.2") as lsock:
        open_port = lsock.getsockname()[1]
        shut = closed_port("127.0.0.2")
        with enforce(build_scope(["127.0.0.2"])):
            result = asyncio.run(sweep(["127.0.0.2"], [open_port, shut], global_limit=8, per_host=2,
                                       connect_timeout=2, retries=1))
    assert result.open_ports == {"127.0.0.2": [open_port]}
    assert result.responded == {"127.0.0.2"}
    assert result.filtered == 0 and result.retried == 0
    assert result.connects == 2  # a refusal is an answer: never retried


def test_connect_closes_with_reset_leaving_no_time_wait() -> None:
    with listener("127.0.0.2") as lsock, enforce(build_scope(["127.0.0.2"])):
        port = lsock.getsockname()[1]
        outcome = asyncio.run(connect_once("127.0.0.2", port, 2.0))
        conn, _ = lsock.accept()
        conn.settimeout(2)
        with pytest.raises(ConnectionResetError):
            conn.recv(1)  # the sweep's close was an RST, not a FIN (which would read b"")
        conn.close()
    assert outcome.state is PortState.OPEN
    assert outcome.rtt is not None and outcome.rtt < 1


def test_dropped_syns_are_recovered_by_bounded_retries() -> None:
    """A listener with a full accept queue drops SYNs (Linux: tcp_conn_request -> drop), like
    a forking daemon under a sweep. Without retries the port is missed; with retries it is
    found once the daemon drains its queue."""
    with listener("127.0.0.2", backlog=0) as lsock:
        port = lsock.getsockname()[1]
        # Fill the accept queue (backlog 0 admits one connection) and keep it full.
        fillers = []
        for _ in range(2):
            filler = socket.socket()
            filler.settimeout(0.3)
            with contextlib.suppress(OSError):
                filler.connect(("127.0.0.2", port))
            fillers.append(filler)
        try:
            with enforce(build_scope(["127.0.0.2"])):
                missed = asyncio.run(sweep(["127.0.0.2"], [port], global_limit=4, per_host=1,
                                           connect_timeout=0.3, retries=0))

                def drain_later() -> None:
                    time.sleep(0.5)
                    lsock.settimeout(1)
                    for _ in range(3):
                        try:
                            conn, _ = lsock.accept()
                            conn.close()
                        except OSError:
                            break

                drainer = threading.Thread(target=drain_later)
                drainer.start()
                found = asyncio.run(sweep(["127.0.0.2"], [port], global_limit=4, per_host=1,
                                          connect_timeout=0.3, retries=6))
                drainer.join()
        finally:
            for filler in fillers:
                filler.close()
    assert missed.open_ports == {} and missed.filtered == 1
    assert found.open_ports == {"127.0.0.2": [port]}
    assert found.recovered == 1 and found.connects > 1


def test_retries_only_timeouts_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def scripted(states: list[PortState]):  # type: ignore[no-untyped-def]
        async def fake(address: str, port: int, timeout: float, hedges: object = ()) -> ConnectOutcome:
            calls.append(port)
            return ConnectOutcome(states.pop(0) if states else PortState.FILTERED, 0.001)
        return fake

    monkeypatch.setattr(portscan, "connect_once", scripted([PortState.FILTERED, PortState.OPEN]))
    outcome, attempts = asyncio.run(connect_with_retries("127.0.0.2", 1, timeout=0.1, retries=3))
    assert (outcome.state, attempts) == (PortState.OPEN, 2)

    calls.clear()
    monkeypatch.setattr(portscan, "connect_once", scripted([]))
    outcome, attempts = asyncio.run(connect_with_retries("127.0.0.2", 1, timeout=0.1, retries=2))
    assert (outcome.state, attempts, len(calls)) == (PortState.FILTERED, 3, 3)

    for final in (PortState.CLOSED, PortState.UNREACHABLE, PortState.DENIED):
        calls.clear()
        monkeypatch.setattr(portscan, "connect_once", scripted([final]))
        outcome, attempts = asyncio.run(connect_with_retries("127.0.0.2", 1, timeout=0.1, retries=5))
        assert (outcome.state, attempts) == (final, 1)


def test_unreachable_host_is_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []

    async def fake(address: str, port: int, timeout: float, hedges: object = ()) -> ConnectOutcome:
        tried.append(port)
        return ConnectOutcome(PortState.UNREACHABLE, 0.01)

    monkeypatch.setattr(portscan, "connect_once", fake)
    with enforce(build_scope(["127.0.0.2"])):
        result = asyncio.run(sweep(["127.0.0.2"], list(range(1, 21)), global_limit=8, per_host=2,
                                   connect_timeout=1, retries=2))
    assert result.unreachable == {"127.0.0.2"}
    assert len(tried) <= 2  # the in-flight pair, not all 20 ports


def test_limits_are_respected() -> None:
    active: dict[str, int] = {}
    peak_host: dict[str, int] = {}
    peak = {"global": 0, "now": 0}

    async def job(host: str, item: int) -> bool:
        active[host] = active.get(host, 0) + 1
        peak["now"] += 1
        peak_host[host] = max(peak_host.get(host, 0), active[host])
        peak["global"] = max(peak["global"], peak["now"])
        await asyncio.sleep(0.005)
        active[host] -= 1
        peak["now"] -= 1
        return True

    work = [(f"h{i}", list(range(10))) for i in range(30)]
    asyncio.run(run_per_host(work, job, global_limit=12, per_host=3))
    assert max(peak_host.values()) == 3
    assert peak["global"] == 12


def test_out_of_scope_refused_before_any_connect() -> None:
    with listener("127.0.0.9") as outside, listener("127.0.0.2") as inside:
        with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
            asyncio.run(sweep(["127.0.0.2", "127.0.0.9"], [outside.getsockname()[1], inside.getsockname()[1]],
                              global_limit=4, per_host=2, connect_timeout=1, retries=0))
        # Refused up front: not even the in-scope address was contacted.
        assert nothing_connected(outside)
        assert nothing_connected(inside)


def test_audit_hook_stops_a_direct_connect() -> None:
    with listener("127.0.0.9") as outside:
        with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
            asyncio.run(connect_once("127.0.0.9", outside.getsockname()[1], 1.0))
        assert nothing_connected(outside)


def test_rotation() -> None:
    assert portscan.rotated([1, 2, 3, 4], 5) == [2, 3, 4, 1]
    assert portscan.rotated([], 3) == []


def test_hedged_connect_recovers_a_dropped_syn_within_one_attempt() -> None:
    """With a hedge, a SYN dropped by a full backlog is retried on a fresh socket once the
    backlog drains, long before the attempt times out (and without counting a retry)."""
    with listener("127.0.0.2", backlog=0) as lsock:
        port = lsock.getsockname()[1]
        fillers = []
        for _ in range(2):
            filler = socket.socket()
            filler.settimeout(0.3)
            with contextlib.suppress(OSError):
                filler.connect(("127.0.0.2", port))
            fillers.append(filler)

        def drain_later() -> None:
            time.sleep(0.3)
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
                started = time.monotonic()
                outcome = asyncio.run(connect_once("127.0.0.2", port, 0.9, hedges=(0.4, 0.6)))
                elapsed = time.monotonic() - started
        finally:
            drainer.join()
            for filler in fillers:
                filler.close()
    assert outcome.state is PortState.OPEN
    assert outcome.sockets >= 2  # a hedge answered: the first SYN was dropped
    assert outcome.rtt is None  # ambiguous sample (Karn): not fed to the RTT estimate
    assert elapsed < 0.9


def test_rtt_estimator_and_hedge_delays() -> None:
    est = portscan.RttEstimator()
    assert est.rto() is None and portscan.hedge_delays(None, 1.25) == ()  # no RTT yet: no hedging
    for sample in (0.010, 0.012, 0.011, 0.030):
        est.add(sample)
    rto = est.rto()
    assert rto is not None and 0.01 < rto < 0.2
    assert portscan.hedge_delays(rto, 1.25) == (portscan.HEDGE_FLOOR, 2 * portscan.HEDGE_FLOOR)
    assert portscan.hedge_delays(0.5, 1.25) == (0.5,)  # a hedge must leave time to be answered
    assert portscan.hedge_delays(0.9, 1.25) == ()


def test_first_error_is_raised_as_itself() -> None:
    async def ok() -> None:
        await asyncio.sleep(0.01)

    async def bad() -> None:
        raise OutOfScopeError("nope")

    with pytest.raises(OutOfScopeError):
        asyncio.run(portscan.gather_first_error(iter([ok(), bad(), ok()])))


def test_ipv6_loopback() -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    try:
        with enforce(build_scope(["::1"])):
            result = asyncio.run(sweep(["::1"], [port, closed_port("127.0.0.2")], global_limit=4, per_host=2,
                                       connect_timeout=1, retries=0))
    finally:
        sock.close()
    assert result.open_ports == {"::1": [port]}
