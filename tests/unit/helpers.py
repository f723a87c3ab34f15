"""Tiny loopback servers for unit tests (127.0.0.0/8 only), each scripted by a handler."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket], None]


@contextmanager
def tcp_server(handler: Handler, host: str = "127.0.0.1") -> Iterator[tuple[str, int, list[int]]]:
    """Serve ``handler`` on an ephemeral port; yields (host, port, accepted-connection counter)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted = [0]
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            accepted[0] += 1
            conn.settimeout(5)
            threading.Thread(target=_serve, args=(handler, conn), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield host, listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _serve(handler: Handler, conn: socket.socket) -> None:
    try:
        handler(conn)
    except OSError:
        pass
    finally:
        conn.close()


def smtp_handler(ehlo_lines: list[str], banner: str = "220 mail.lab ESMTP test") -> Handler:
    """A minimal SMTP dialogue: greeting, EHLO reply with the given extensions, QUIT."""

    def handle(conn: socket.socket) -> None:
        fh = conn.makefile("rwb")
        fh.write(banner.encode() + b"\r\n")
        fh.flush()
        for raw in fh:
            cmd = raw.decode(errors="replace").strip().upper()
            if cmd.startswith("EHLO"):
                lines = ["mail.lab", *ehlo_lines]
                for i, line in enumerate(lines):
                    sep = " " if i == len(lines) - 1 else "-"
                    fh.write(f"250{sep}{line}\r\n".encode())
            elif cmd.startswith("QUIT"):
                fh.write(b"221 bye\r\n")
                fh.flush()
                return
            else:
                fh.write(b"502 no\r\n")
            fh.flush()

    return handle
