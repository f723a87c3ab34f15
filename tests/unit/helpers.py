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


@contextmanager
def dns_server(records: dict[str, list[str]], host: str = "127.0.0.1") -> Iterator[tuple[int, list[str]]]:
    """A tiny authoritative DNS server over UDP on loopback: A/AAAA answers from ``records``
    (name -> addresses), NXDOMAIN otherwise. Yields (port, the names asked, in order)."""
    import ipaddress

    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            asked.append(f"{name}/{dns.rdatatype.to_text(question.rdtype)}")
            if name not in records:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            else:
                want = 4 if question.rdtype == dns.rdatatype.A else 6
                values = [a for a in records[name] if ipaddress.ip_address(a).version == want]
                if values:
                    reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", question.rdtype, values))
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], asked
    finally:
        stop.set()
        thread.join(2)
        sock.close()
