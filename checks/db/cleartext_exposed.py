"""db.cleartext_exposed — a database server reachable without TLS being required.

PostgreSQL (5432), two questions, no credentials: (1) an SSLRequest (PostgreSQL protocol, "SSL Session
Encryption"): the server answers 'S' (TLS available) or 'N' (no TLS at all); (2) a plaintext
StartupMessage for a made-up user: an authentication request means the server would take a
login over cleartext (FAIL), an ErrorResponse 28000 ("no pg_hba.conf entry ... no encryption")
means cleartext connections are refused (PASS). No password is ever sent; the connection is
closed at the first authentication request.

MySQL/MariaDB (3306, mysql_probe.py): the greeting's CLIENT_SSL flag says whether TLS is offered
at all (not offered: FAIL). When it is offered, whether cleartext logins are refused shows only
after a successful login (require_secure_transport is enforced after authentication), so without
database credentials the result is a skip that says TLS is offered, unless the server itself
answers the made-up cleartext login with ER_SECURE_TRANSPORT_REQUIRED (PASS) or lets it in (FAIL).
MSSQL is not covered yet.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Finding, Severity, Skip, SkipReason, Target, utcnow
from scanner.net.sockets import recv_exact
from scanner.net.text import sanitize

from .mysql_probe import MysqlFacts, MysqlHandshake

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
    try:
        return socket.create_connection((target.host, target.port), timeout=ctx.timeouts.connect)
    except Exception as exc:
        raise translate_os_error(exc, f"PostgreSQL connect to {target.host}:{target.port}") from exc


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
            try:
                sock.sendall(SSL_REQUEST)
            except Exception as exc:
                raise translate_os_error(exc, "PostgreSQL SSLRequest") from exc
            answer = recv_exact(sock, 1, time.monotonic() + ctx.timeouts.read, "PostgreSQL SSLRequest")
            if answer not in (b"S", b"N"):
                raise ProtocolError(f"PostgreSQL: SSLRequest answered {answer!r}, not S or N")
        with _connect(target, ctx) as sock:
            params = b"user\x00" + PROBE_USER.encode() + b"\x00database\x00postgres\x00\x00"
            startup = struct.pack("!II", 8 + len(params), 196608) + params  # protocol 3.0
            try:
                sock.sendall(startup)
            except Exception as exc:
                raise translate_os_error(exc, "PostgreSQL StartupMessage") from exc
            deadline = time.monotonic() + ctx.timeouts.read
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


class DbTransport(Probe[PgFacts | MysqlFacts]):
    """Routes by the discovered service: the MySQL protocol for "mysql", PostgreSQL's otherwise."""

    name = "db-transport"

    def collect(self, target: Target, ctx: ProbeContext) -> PgFacts | MysqlFacts:
        if target.service == "mysql":
            return MysqlHandshake().collect(target, ctx)
        return PgStartup().collect(target, ctx)


class DbCleartextExposed(Check):
    meta = CheckMeta(
        id="db.cleartext_exposed",
        title="Database accepts connections without TLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"postgresql", "mysql"})),
        why=(
            "The database, which may hold patient records, takes connections without encryption. Logins and the "
            "records themselves can then cross the network readable by anyone who can watch the traffic."
        ),
        remediation=(
            "Enable TLS on the database with a CA-issued certificate and require it for every network client "
            "(PostgreSQL: ssl = on and hostssl lines only, or hostnossl ... reject in pg_hba.conf; MySQL/MariaDB: "
            "ssl_cert/ssl_key and require_secure_transport = ON); keep the database off networks that do not "
            "need it."
        ),
        description="PostgreSQL SSLRequest, then a plaintext StartupMessage for a made-up user; MySQL/MariaDB "
                    "greeting (CLIENT_SSL), then a cleartext login for a made-up user; no password.",
    )
    probes = (DbTransport,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        got: PgFacts | MysqlFacts = facts[DbTransport]
        if isinstance(got, MysqlFacts):
            yield from self._mysql(target, got)
            return
        pg = got
        where = f"PostgreSQL {target.host}:{target.port}"
        if not pg.tls_available:
            detail = f"{where}: no TLS at all (SSLRequest answered 'N')"
            passed = False
        elif pg.cleartext_login_possible:
            detail = (f"{where}: TLS available but not required: a plaintext connection was offered "
                      f"{pg.auth_method} authentication")
            passed = False
        else:
            detail = (f"{where}: TLS available and plaintext connections refused ({pg.error_code}: "
                      f"{sanitize(pg.error_message, 120)})")
            passed = True
        yield self.finding(target, passed=passed, detail=detail, evidence=[pg.evidence()])

    def _mysql(self, target: Target, my: MysqlFacts) -> Iterator[Finding | Skip]:
        g = my.greeting
        where = f"{g.product if g else 'MySQL'} {target.host}:{target.port}"
        if g is None:
            err = my.refused
            assert err is not None
            yield self.skip(target, SkipReason.PERMISSION,
                            f"{where}: refused this scanner before the handshake (ERR {err.code}: "
                            f"{sanitize(err.message, 120)}); TLS not judged")
            return
        if not g.tls_available:
            detail = f"{where}: no TLS at all (the greeting does not set CLIENT_SSL); logins can only be cleartext"
            yield self.finding(target, passed=False, detail=detail, evidence=[my.evidence()])
        elif my.cleartext_login_accepted:
            detail = f"{where}: TLS available but not required: a made-up user logged in over cleartext, no password"
            yield self.finding(target, passed=False, detail=detail, evidence=[my.evidence()])
        elif my.secure_transport_required:
            detail = f"{where}: TLS available and cleartext logins refused ({my.login_summary()})"
            yield self.finding(target, passed=True, detail=detail, evidence=[my.evidence()])
        else:
            yield self.skip(target, SkipReason.NO_CREDENTIALS,
                            f"{where}: TLS offered (CLIENT_SSL); whether cleartext logins are refused "
                            f"(require_secure_transport) shows only after a successful login, and the scan has no "
                            f"database account (made-up cleartext login: {my.login_summary()})")
