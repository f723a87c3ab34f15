"""Line readers obey a total deadline and a byte budget whatever a server does (loopback servers
that drip bytes, drip valid lines, or send a 10 MB banner)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from scanner.errors import ProbeTimeout, ProtocolError
from scanner.net.lines import LineClient
from scanner.net.smtp import read_smtp_reply


@contextmanager
def hostile_server(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-connection TCP server on 127.0.0.1 running ``behaviour`` on the accepted socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                while not stop.is_set():
                    behaviour(conn)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def _drip_lines(conn: socket.socket) -> None:
    conn.sendall(b"250-still going\r\n")  # a valid continuation line, forever
    time.sleep(0.3)


def _drip_bytes(conn: socket.socket) -> None:
    conn.sendall(b"2")
    time.sleep(0.3)


def _flood(conn: socket.socket) -> None:
    conn.sendall((b"A" * 98 + b"\r\n") * 1000)


@pytest.mark.parametrize("behaviour", [_drip_lines, _drip_bytes])
def test_a_dripping_server_ends_at_the_total_deadline(behaviour: Callable[[socket.socket], None]) -> None:
    with hostile_server(behaviour) as port:
        started = time.monotonic()
        with LineClient("127.0.0.1", port, connect_timeout=1, read_timeout=1, what="SMTP",
                        deadline=time.monotonic() + 2) as client, pytest.raises(ProbeTimeout):
            for _ in range(10_000):
                read_smtp_reply(client)
        assert time.monotonic() - started < 3


def test_without_a_deadline_a_connection_lives_a_bounded_number_of_read_timeouts() -> None:
    with hostile_server(_drip_lines) as port:
        started = time.monotonic()
        with LineClient("127.0.0.1", port, connect_timeout=0.5, read_timeout=0.5, what="SMTP") as client, \
                pytest.raises((ProbeTimeout, ProtocolError)):
            for _ in range(10_000):
                client.read_line()
        assert time.monotonic() - started < 0.5 + 6 * 0.5 + 1


def test_a_flood_is_cut_at_the_byte_budget() -> None:
    with hostile_server(_flood) as port, LineClient("127.0.0.1", port, connect_timeout=1, read_timeout=5,
                                                    what="FTP", deadline=time.monotonic() + 20) as client, \
            pytest.raises(ProtocolError, match="more than"):
        for _ in range(100_000):
            client.read_line()
