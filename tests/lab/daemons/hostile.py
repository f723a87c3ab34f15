"""Hostile services (issue 15): small servers that misbehave the way an attacker or a broken
device on a clinic network would, on the ports the checks look at. None of them proves anything,
so a scan of this host must end in bounded time with 0 PASS and 0 FAIL, its payloads inert.

Run directly with a Python interpreter (stdlib only) inside the hostile host's namespace:
``python -I hostile.py ADDRESS``; it prints ``serving`` once every port listens.
``BEHAVIOURS`` is the table the test reads: port -> (transport, behaviour).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable

# Strings a report, a CSV or a terminal must render inert (never executed, never interpreted).
PAYLOADS = ('<script>alert("gs-xss")</script>', "\x1b[31mGS-ANSI\x1b]0;gs-title\x07", "gs\u202eexe.txt",
            '=HYPERLINK("http://gs-csv.example")', "+cmd|' /C calc'!A0")
PAYLOAD_TEXT = " ".join(PAYLOADS)

BEHAVIOURS: dict[int, tuple[str, str]] = {
    21: ("tcp", "10 MB banner (no line end)"),
    22: ("tcp", "valid SSH greeting then silence"),
    23: ("tcp", "byte drip: one byte every 2 s"),
    25: ("tcp", "line drip: one valid SMTP continuation line every 3 s"),
    80: ("tcp", "HTTP redirect off the target, payloads in Location and Server"),
    110: ("tcp", "RST right after accept"),
    143: ("tcp", "IMAP STARTTLS accepted, then garbage"),
    443: ("tcp", "TLS ServerHello echoing the offer, then garbage"),
    445: ("tcp", "random garbage"),
    3389: ("tcp", "tarpit: accepts, never sends"),
    5900: ("tcp", "RFB greeting one byte every 2 s"),
    8080: ("tcp", "HTTP status line, then one header every 3 s"),
    22000: ("tcp", "RST right after accept"),
    161: ("udp", "garbage datagram for every request"),
    2222: ("tcp", "SSH that accepts any logon, then closes every channel (hostile_ssh.py, paramiko)"),
}

# What a behaviour does establish, with the verdict it supports: the IMAP server's greeting is a
# real capability list (LOGINDISABLED before TLS, RFC 3501 §6.2.3), and that is all
# imap.cleartext_login judges; only its TLS is garbage.
PROVES: dict[tuple[int, str], str] = {(143, "imap.cleartext_login"): "pass"}


def _sleep_forever(conn: socket.socket) -> None:
    while True:
        if not conn.recv(4096):
            return


def banner_10mb(conn: socket.socket) -> None:
    chunk = b"220-" + b"A" * 65532
    for _ in range(160):
        conn.sendall(chunk)
    _sleep_forever(conn)


def ssh_then_silence(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 " + PAYLOAD_TEXT.encode() + b"\r\n")
    _sleep_forever(conn)


def byte_drip(data: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        while True:
            for byte in data:
                conn.sendall(bytes([byte]))
                time.sleep(2)

    return handle


def smtp_line_drip(conn: socket.socket) -> None:
    n = 0
    while True:
        conn.sendall(f"220-hostile line {n} {PAYLOAD_TEXT}\r\n".encode())
        n += 1
        time.sleep(3)


def http_redirect_off_target(conn: socket.socket) -> None:
    conn.recv(4096)
    location = 'http://gs-evil.example/"><script>alert(1)</script>\u202e'.encode()
    conn.sendall(b"HTTP/1.1 302 Found\r\nServer: " + PAYLOAD_TEXT.encode() + b"\r\nLocation: " + location
                 + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def http_header_drip(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    n = 0
    while True:
        time.sleep(3)
        conn.sendall(f"X-Drip-{n}: {n}\r\n".encode())
        n += 1


def rst_after_accept(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def imap_starttls_then_garbage(conn: socket.socket) -> None:
    fh = conn.makefile("rwb")
    fh.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] " + PAYLOAD_TEXT.encode() + b"\r\n")
    fh.flush()
    for raw in fh:
        tag, _, command = raw.decode("latin-1").strip().partition(" ")
        if command.upper().startswith("CAPABILITY"):
            fh.write(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" + tag.encode() + b" OK done\r\n")
        elif command.upper().startswith("STARTTLS"):
            fh.write(tag.encode() + b" OK Begin TLS negotiation now\r\n")
            fh.flush()
            conn.recv(4096)
            conn.sendall(os.urandom(2048))
            _sleep_forever(conn)
            return
        else:
            fh.write(tag.encode() + b" BAD " + PAYLOAD_TEXT.encode() + b"\r\n")
        fh.flush()


def tls_hello_then_garbage(conn: socket.socket) -> None:
    """Answer a ClientHello with a ServerHello echoing its version and first suite (RFC 5246
    §7.4.1.3), then random bytes where the Certificate should be."""
    header = conn.recv(5, socket.MSG_WAITALL)
    if len(header) < 5 or header[0] != 22:
        conn.sendall(os.urandom(512))
        return
    body = conn.recv(struct.unpack("!H", header[3:5])[0], socket.MSG_WAITALL)
    version = body[4:6]
    sid_len = body[38]
    pos = 39 + sid_len
    suite = body[pos + 2:pos + 4]
    hello = version + os.urandom(32) + b"\x00" + suite + b"\x00"
    handshake = b"\x02" + len(hello).to_bytes(3, "big") + hello
    conn.sendall(b"\x16" + version + len(handshake).to_bytes(2, "big") + handshake)
    conn.sendall(b"\x16" + version + b"\x01\x00" + os.urandom(256))
    _sleep_forever(conn)


def random_garbage(conn: socket.socket) -> None:
    rng = random.Random()
    conn.sendall(rng.randbytes(8192))
    _sleep_forever(conn)


def tarpit(conn: socket.socket) -> None:
    _sleep_forever(conn)


TCP_HANDLERS: dict[int, Callable[[socket.socket], None]] = {
    21: banner_10mb, 22: ssh_then_silence, 23: byte_drip(b"2"), 25: smtp_line_drip, 80: http_redirect_off_target,
    110: rst_after_accept, 143: imap_starttls_then_garbage, 443: tls_hello_then_garbage, 445: random_garbage,
    3389: tarpit, 5900: byte_drip(b"RFB 003.008\n"), 8080: http_header_drip, 22000: rst_after_accept,
}


def _serve_tcp(address: str, port: int, handler: Callable[[socket.socket], None]) -> None:
    srv = socket.create_server((address, port), backlog=128)

    def one(conn: socket.socket) -> None:
        try:
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def loop() -> None:
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def _serve_udp_garbage(address: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))

    def loop() -> None:
        while True:
            _data, peer = sock.recvfrom(65535)
            sock.sendto(b"\x30\x82" + os.urandom(64), peer)  # a BER SEQUENCE header, then noise

    threading.Thread(target=loop, daemon=True).start()


def main() -> None:
    address = sys.argv[1]
    for port, handler in TCP_HANDLERS.items():
        _serve_tcp(address, port, handler)
    _serve_udp_garbage(address, 161)
    print("serving", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
