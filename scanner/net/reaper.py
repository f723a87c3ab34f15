"""A hard stop for every socket a probe opened, whatever library opened it.

Each probe bounds its own reads by its remaining time, but libraries keep their own clocks:
http.client, ssl handshakes, paramiko and impacket set a timeout *per read*, so a server that
sends one byte every two seconds can keep a call alive long past the probe's deadline. Python
threads cannot be killed; a socket can be shut down from another thread, which wakes any call
blocked on it with an error.

``sockets_shut_at(deadline)`` records every socket object created in the calling thread while
it is active (the ``socket.__new__`` audit event, PEP 578: raised for plain, TLS and adopted
sockets alike) and, at ``deadline``, shuts down those still open. Only objects are kept (weak
references), never file descriptor numbers, so a socket closed and its number reused elsewhere
is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

_active = threading.local()
_install_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.__new__":
        return
    owned: weakref.WeakSet[socket.socket] | None = getattr(_active, "sockets", None)
    if owned is not None and args:
        with contextlib.suppress(TypeError):
            owned.add(args[0])


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)  # audit hooks cannot be removed: installed once, cheap when idle
            _installed = True


class Reaping:
    """What a ``sockets_shut_at`` block did: ``fired`` once the deadline came and its sockets
    were shut. Whatever the code inside returned after that was read from a cut connection: the
    caller must not trust it."""

    def __init__(self) -> None:
        self.fired = False
        self.shut = 0


def _shut(owned: weakref.WeakSet[socket.socket], state: Reaping) -> int:
    state.fired = True
    shut = 0
    for sock in list(owned):
        if sock.fileno() == -1:  # closed or detached (its descriptor now belongs to another object)
            continue
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
            shut += 1
    state.shut = shut
    return shut


@contextlib.contextmanager
def sockets_shut_at(deadline: float | None) -> Iterator[Reaping]:
    """Within the block, sockets created by this thread are shut down at ``deadline``
    (monotonic seconds; None: no bound). Blocks nest; the innermost deadline applies to the
    sockets created inside it."""
    state = Reaping()
    if deadline is None:
        yield state
        return
    _install()
    previous = getattr(_active, "sockets", None)
    owned: weakref.WeakSet[socket.socket] = weakref.WeakSet()
    _active.sockets = owned
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, args=(owned, state))
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        timer.cancel()
        _active.sockets = previous
        if previous is not None:
            for sock in list(owned):
                previous.add(sock)
