"""The MySQL/MariaDB transport probe: read the greeting (HandshakeV10), then answer it with a
cleartext HandshakeResponse41 for a made-up user and an empty auth response, and close at the
server's first reply. No password is ever sent.

Why answer at all when the greeting already says whether TLS is offered: a client that hangs up
after the greeting counts as a handshake error for its host, and max_connect_errors of those
block the host (MySQL manual, "Host 'host_name' is blocked"); a refused login does not. And the
reply is evidence: which error the server gives a cleartext login attempt.

What the reply cannot show (measured on MariaDB 10.11 in the lab, with require_secure_transport
ON and OFF): MariaDB and MySQL enforce require_secure_transport only after a *successful*
authentication, so a made-up user gets ERR 1045 (28000, access denied) either way; the greetings
are identical too. MariaDB 10.11 has no ER_SECURE_TRANSPORT_REQUIRED at all: even a valid login
over cleartext gets 1045. Only MySQL's explicit ER_SECURE_TRANSPORT_REQUIRED (3159) would prove
refusal, and an OK would prove a passwordless (anonymous) cleartext login.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp, recv_exact, send_all
from scanner.net.text import sanitize

from . import mysql_wire as wire

PROBE_USER = "gapscan_tls_probe"  # made up: it never needs to exist
ER_SECURE_TRANSPORT_REQUIRED = 3159  # MySQL 5.7+ server error reference; MariaDB 10.11 has no such error
MAX_GREETING = 4096  # a HandshakeV10 is about 100 bytes


@dataclass(frozen=True)
class MysqlFacts:
    """What a MySQL-protocol server said to an unauthenticated client."""

    greeting: wire.Greeting | None  # None when the server refused us with an ERR packet instead
    refused: wire.ServerError | None  # that ERR packet
    login: wire.LoginReply | None  # reply to the cleartext HandshakeResponse41 (None: not sent)

    @property
    def tls_available(self) -> bool:
        return self.greeting is not None and self.greeting.tls_available

    @property
    def secure_transport_required(self) -> bool:
        """The server said so itself: ER_SECURE_TRANSPORT_REQUIRED to a cleartext login."""
        err = self.login.error if self.login else None
        return err is not None and err.code == ER_SECURE_TRANSPORT_REQUIRED

    @property
    def cleartext_login_accepted(self) -> bool:
        """OK to a made-up user with no password: an anonymous account logged in over cleartext."""
        return self.login is not None and self.login.kind == "ok"

    def login_summary(self) -> str:
        if self.login is None:
            return "no login attempted"
        if self.login.error is not None:
            e = self.login.error
            return f"ERR {e.code} ({e.sql_state or '-'}): {sanitize(e.message, 120)}"
        if self.login.kind == "auth_switch":
            return f"auth switch to {sanitize(self.login.auth_plugin, 40) or 'another method'}"
        return {"ok": "OK (logged in without a password)", "auth_more_data": "more auth data requested"}.get(
            self.login.kind, self.login.kind)

    def evidence(self) -> Evidence:
        g = self.greeting
        data: dict[str, object] = {"user_sent": PROBE_USER, "password_sent": False}
        if g is not None:
            data |= {"protocol_version": g.protocol_version, "server_version": sanitize(g.server_version, 100),
                     "product": g.product, "capability_flags": f"0x{g.capabilities:08x}",
                     "client_ssl": g.tls_available, "auth_plugin": sanitize(g.auth_plugin, 60)}
            summary = f"{g.product} {sanitize(g.version, 60)}: CLIENT_SSL {'set' if g.tls_available else 'not set'}"
        else:
            summary = "the server sent an error instead of a greeting"
        if self.refused is not None:
            data |= {"greeting_error_code": self.refused.code, "greeting_error": sanitize(self.refused.message, 300)}
        if self.login is not None:
            data |= {"login_reply": self.login.kind, "login_error_code": self.login.error.code if self.login.error
                     else None, "login_sql_state": self.login.error.sql_state if self.login.error else "",
                     "login_error": sanitize(self.login.error.message, 300) if self.login.error else ""}
            summary += f"; cleartext login for a made-up user: {self.login_summary()}"
        return Evidence(
            kind="mysql-handshake", summary=summary, data=data, collected_at=utcnow(),
            method="read the HandshakeV10 greeting; then a cleartext HandshakeResponse41 for a made-up user with an "
                   "empty auth response (no password sent), closed at the first reply",
        )


def _recv_packet(sock: socket.socket, deadline: float, what: str) -> bytes:
    """One whole packet's payload, within ``deadline`` (monotonic seconds)."""
    header = recv_exact(sock, wire.HEADER_LEN, deadline, f"MySQL {what}")
    length, _seq = wire.packet_length(header)
    if length > MAX_GREETING:
        raise ProtocolError(f"MySQL: implausible {what} length {length}")
    return recv_exact(sock, length, deadline, f"MySQL {what}")


class MysqlHandshake(Probe[MysqlFacts]):
    """Greeting + one cleartext login attempt for a made-up user (see the module docstring)."""

    name = "mysql-handshake"

    def collect(self, target: Target, ctx: ProbeContext) -> MysqlFacts:
        assert target.host is not None and target.port is not None
        with connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "MySQL") as sock:
            first = wire.parse_greeting(_recv_packet(sock, ctx.until(ctx.timeouts.read), "greeting"))
            if isinstance(first, wire.ServerError):
                return MysqlFacts(greeting=None, refused=first, login=None)
            if not first.speaks_41:  # a pre-4.1 server: judge by the greeting alone
                return MysqlFacts(greeting=first, refused=None, login=None)
            send_all(sock, wire.handshake_response(PROBE_USER), "MySQL handshake response")
            reply = _recv_packet(sock, ctx.until(ctx.timeouts.read), "login reply")
        return MysqlFacts(greeting=first, refused=None, login=wire.parse_login_reply(reply))
