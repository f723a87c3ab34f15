"""PostgreSQL transport security without credentials (protocol 3.0, "SSL Session Encryption").

Two questions, each on its own connection: (1) an SSLRequest, answered 'S' (TLS available) or
'N' (no TLS at all); (2) a plaintext StartupMessage for a made-up user: an authentication
request means the server would take a login over cleartext, an ErrorResponse (28000, "no
pg_hba.conf entry ... no encryption") means cleartext connections are refused. No password is
ever sent; the connection is closed at the first reply.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp, recv_exact, send_all
from scanner.net.text import sanitize

SSL_REQUEST = struct.pack("!II", 8, 80877103)
PROBE_USER = "gapscan_tls_probe"  # made up: it never needs to exist
AUTH_NAMES = {0: "ok (no password!)", 2: "Kerberos", 3: "cleartext password", 5: "MD5", 7: "GSS", 9: "SSPI",
              10: "SASL (SCRAM)"}


@dataclass(frozen=True)
class PgFacts:
    ssl_answer: str  # "S" or "N"
    plaintext_answer: str  # "auth" or "error"
    auth_method: str  # when "auth"
    error_code: str  # SQLSTATE when "error"
    error_message: str

    @property
    def tls_available(self) -> bool:
        return self.ssl_answer == "S"

    @property
    def cleartext_login_possible(self) -> bool:
        return self.plaintext_answer == "auth"

    def evidence(self) -> Evidence:
        plain = (f"plaintext startup got an authentication request ({self.auth_method})"
                 if self.cleartext_login_possible else f"plaintext startup refused ({self.error_code})")
        return Evidence(
            kind="postgresql-startup",
            summary=f"SSLRequest answered {self.ssl_answer!r}; {plain}",
            data={"ssl_request_answer": self.ssl_answer, "plaintext_startup": self.plaintext_answer,
                  "auth_method": self.auth_method, "error_code": self.error_code,
                  "error_message": sanitize(self.error_message, 300), "user_sent": PROBE_USER},
            collected_at=utcnow(),
            method="SSLRequest; then a plaintext StartupMessage for a made-up user (no password sent), closed at "
                   "the first reply",
        )


def _connect(target: Target, ctx: ProbeContext) -> socket.socket:
    assert target.host is not None and target.port is not None
    return connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "PostgreSQL")


def _fields(body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in body.split(b"\x00"):
        if part:
            out.setdefault(chr(part[0]), part[1:].decode("utf-8", "replace"))
    return out


class PgStartup(Probe[PgFacts]):
    name = "postgresql-startup"

    def collect(self, target: Target, ctx: ProbeContext) -> PgFacts:
        with _connect(target, ctx) as sock:
            send_all(sock, SSL_REQUEST, "PostgreSQL SSLRequest")
            answer = recv_exact(sock, 1, ctx.until(ctx.timeouts.read), "PostgreSQL SSLRequest")
            if answer not in (b"S", b"N"):
                raise ProtocolError(f"PostgreSQL: SSLRequest answered {answer!r}, not S or N")
        with _connect(target, ctx) as sock:
            params = b"user\x00" + PROBE_USER.encode() + b"\x00database\x00postgres\x00\x00"
            startup = struct.pack("!II", 8 + len(params), 196608) + params  # protocol 3.0
            send_all(sock, startup, "PostgreSQL StartupMessage")
            deadline = ctx.until(ctx.timeouts.read)
            kind, length = struct.unpack("!cI", recv_exact(sock, 5, deadline, "PostgreSQL startup reply"))
            if length < 4 or length > 65536:
                raise ProtocolError(f"PostgreSQL: implausible message length {length}")
            body = recv_exact(sock, length - 4, deadline, "PostgreSQL startup reply")
        if kind == b"R" and len(body) >= 4:
            code = struct.unpack("!I", body[:4])[0]
            return PgFacts(answer.decode(), "auth", AUTH_NAMES.get(code, str(code)), "", "")
        if kind == b"E":
            fields = _fields(body)
            return PgFacts(answer.decode(), "error", "", fields.get("C", ""), fields.get("M", ""))
        raise ProtocolError(f"PostgreSQL: unexpected reply type {kind!r} to a StartupMessage")
