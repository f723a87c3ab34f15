"""Serving the app with uvicorn on a socket bound here: loopback only in local mode.

The socket is bound before uvicorn starts, so the printed URL names the real port (``--port 0``
takes a free one) and nothing but 127.0.0.1 can ever be bound in local mode (``LoopbackOnly``).
uvicorn's access log is off: the first request's URL carries the token, and no log may hold it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from scanner.errors import InputError

LOCAL_HOST = "127.0.0.1"


def bind_loopback(port: int, host: str = LOCAL_HOST) -> socket.socket:
    """A listening TCP socket on a loopback address; any other address is refused."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InputError(f"local mode listens on the loopback address only, not {host!r}", source="--host")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})", source="--port") from exc
    sock.listen(64)
    return sock


def local_hosts(port: int) -> frozenset[str]:
    """The Host header values a local server answers to."""
    return frozenset({f"{LOCAL_HOST}:{port}", f"localhost:{port}"})


def local_origins(port: int) -> frozenset[str]:
    return frozenset(f"http://{h}" for h in local_hosts(port))


def uvicorn_server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(app, access_log=False, log_level="warning", server_header=False, lifespan="off",
                            timeout_graceful_shutdown=5, limit_concurrency=64, proxy_headers=False)
    return uvicorn.Server(config)


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    port: int


@contextmanager
def serve_in_thread(app: ASGIApp, sock: socket.socket, timeout: float = 10.0) -> Iterator[RunningServer]:
    """Serve until the block ends (tests and embedding); the thread is stopped and joined."""
    server = uvicorn_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="gapscan-web")
    thread.start()
    try:
        for _ in range(int(timeout * 50)):
            if server.started:
                break
            thread.join(0.02)
        if not server.started:
            raise RuntimeError("the web server did not start")
        yield RunningServer(server, thread, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
