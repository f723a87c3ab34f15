"""Issue 15: a probe's I/O obeys its remaining time, total and not per read, whatever library
does the reading (scanner/net/sockets.py DeadlineSocket, scanner/net/reaper.py, the runner's
collect_bounded). Durations are printed, never asserted; what is asserted is that each call
ends with a timeout instead of reading on."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from scanner.check import Probe, ProbeContext, TimeoutConfig
from scanner.engine.runner import DeadlinePassed, collect_bounded
from scanner.errors import ProbeTimeout
from scanner.models import Target
from scanner.net.reaper import sockets_shut_at
from scanner.net.sockets import DeadlineSocket, connect_bounded
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=5.0, probe=30.0))


def _drip(conn: socket.socket) -> None:
    """An HTTP answer one byte every 0.4 s: each read succeeds well within a 5 s read timeout."""
    conn.recv(4096)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n" + b"x" * 400:
        conn.sendall(bytes([byte]))
        time.sleep(0.4)


def test_deadline_socket_bounds_the_whole_exchange() -> None:
    with tcp_server(_drip) as (host, port, _n):
        sock = connect_bounded(host, port, time.monotonic() + 1.5, 1.0, "HTTP")
        assert isinstance(sock, DeadlineSocket)
        sock.settimeout(5.0)  # what a library asks for: per read
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        started, got = time.monotonic(), b""
        with pytest.raises(TimeoutError):
            while True:
                got += sock.recv(100)
        sock.close()
    print(f"drip through DeadlineSocket: {len(got)} bytes, ended after {time.monotonic() - started:.1f} s")


def test_reaper_ends_a_library_call_with_a_per_read_timeout() -> None:
    with tcp_server(_drip) as (host, port, _n):
        started = time.monotonic()
        with sockets_shut_at(time.monotonic() + 1.5) as reaping, pytest.raises((OSError, http.client.HTTPException)):
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
        assert reaping.fired
    print(f"http.client against a drip under the reaper: ended after {time.monotonic() - started:.1f} s")


class _DripProbe(Probe[Any]):
    """A probe whose library keeps a per-read timeout and swallows the error it gets: facts
    from a cut connection, which the runner must not keep."""

    name = "drip"

    def collect(self, target: Target, ctx: ProbeContext) -> Any:
        assert target.host is not None and target.port is not None
        conn = http.client.HTTPConnection(target.host, target.port, timeout=ctx.timeouts.read)
        try:
            conn.request("GET", "/")
            return conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            return b"comforting default"


def test_runner_discards_facts_read_past_the_deadline() -> None:
    with tcp_server(_drip) as (host, port, _n):
        ctx = replace(CTX, deadline=time.monotonic() + 1.5)
        done: list[BaseException] = []

        def call() -> None:
            try:
                collect_bounded(_DripProbe(), Target(host=host, port=port, service="http"), ctx)
            except BaseException as exc:
                done.append(exc)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(20)
        assert not worker.is_alive(), "the probe thread outlived its deadline"
    (error,) = done
    assert isinstance(error, DeadlinePassed) and isinstance(error, ProbeTimeout)


def test_a_probe_that_finishes_in_time_keeps_its_facts() -> None:
    class Quick(Probe[Any]):
        def collect(self, target: Target, ctx: ProbeContext) -> Any:
            return "facts"

    ctx = replace(CTX, deadline=time.monotonic() + 5)
    assert collect_bounded(Quick(), Target(host="127.0.0.1", port=1, service="x"), ctx) == "facts"
