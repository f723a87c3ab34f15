"""Line-based protocols (SMTP, IMAP, POP3, FTP): a TCP client that reads capped lines. Each
protocol's reply readers are beside it (smtp.py, imap.py, pop3.py, ftp.py) and the STARTTLS
upgrades in starttls.py.

Everything that comes off the network is hostile: lines are length-capped, the number of lines
is capped, control characters are stripped before anything is stored as evidence, and every
operation is bounded by the probe's timeouts. Socket errors become ``ProbeError``s here.
"""

from __future__ import annotations

import contextlib
import socket
import time
from types import TracebackType

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error

MAX_LINE = 4096
MAX_LINES = 200
# What one connection may read in all: a 10 MB banner is a hostile server, not a protocol.
MAX_TOTAL_BYTES = 1 << 20
# Without an explicit deadline a connection lives at most this many read timeouts (plus the
# connect): a server sending one valid line every few seconds cannot keep a probe alive.
DEFAULT_READS = 6


class LineClient:
    """A TCP connection that reads CRLF-terminated lines with hard limits and a deadline.

    Two clocks bound every read: ``read_timeout`` per line, and ``deadline`` (monotonic) for the
    whole connection — the probe's ``ctx.deadline`` when given, else ``DEFAULT_READS`` read
    timeouts from now. The connection also reads at most ``MAX_TOTAL_BYTES``."""

    def __init__(self, host: str, port: int, *, connect_timeout: float, read_timeout: float,
                 what: str, deadline: float | None = None) -> None:
        self.what = what
        self.read_timeout = read_timeout
        self.deadline = (deadline if deadline is not None
                         else time.monotonic() + connect_timeout + DEFAULT_READS * read_timeout)
        self._buffer = b""
        self._received = 0
        try:
            self.sock = socket.create_connection((host, port), timeout=self._left(connect_timeout))
        except Exception as exc:
            raise translate_os_error(exc, f"{what} connect to {host}:{port}") from exc
        self.sock.settimeout(read_timeout)
        self.local_address = self.sock.getsockname()[0]

    def _left(self, cap: float) -> float:
        """Seconds the next operation may wait: ``cap``, or less when the deadline is near."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeTimeout(f"{self.what}: the exchange did not finish before its deadline")
        return min(cap, left)

    def remaining(self, cap: float) -> float:
        """Seconds an operation on this connection may wait: ``cap``, or less near the deadline
        (for a TLS handshake on ``sock`` after STARTTLS, which reads past this class)."""
        return self._left(cap)

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def pending(self) -> bool:
        """Bytes received but not read yet. After a server's STARTTLS "go ahead" they would be
        plaintext injected before the TLS session (the CVE-2011-0411 class): callers refuse them."""
        return bool(self._buffer)

    def send_line(self, line: str) -> None:
        try:
            self.sock.settimeout(self._left(self.read_timeout))
            self.sock.sendall(line.encode("ascii", "replace") + b"\r\n")
        except Exception as exc:
            raise translate_os_error(exc, f"{self.what} send") from exc

    def read_line(self) -> str:
        """One line without its terminator; raises on timeout, close or an over-long line."""
        line_deadline = time.monotonic() + self.read_timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError(f"{self.what}: line longer than {MAX_LINE} bytes")
            remaining = line_deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout(f"{self.what}: no complete line within {self.read_timeout:.0f} s")
            self.sock.settimeout(self._left(remaining))
            try:
                chunk = self.sock.recv(4096)
            except Exception as exc:
                raise translate_os_error(exc, f"{self.what} read") from exc
            if not chunk:
                raise ProtocolError(f"{self.what}: connection closed by the server")
            self._received += len(chunk)
            if self._received > MAX_TOTAL_BYTES:
                raise ProtocolError(f"{self.what}: the server sent more than {MAX_TOTAL_BYTES} bytes")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise ProtocolError(f"{self.what}: line longer than {MAX_LINE} bytes")
        return line.rstrip(b"\r").decode("utf-8", "replace")
