"""db.cleartext_exposed — a database server reachable without TLS being required.

PostgreSQL (5432, postgres_probe.py), two questions, no credentials: (1) an SSLRequest
(PostgreSQL protocol, "SSL Session Encryption"): the server answers 'S' (TLS available) or 'N'
(no TLS at all); (2) a plaintext StartupMessage for a made-up user: an authentication request
means the server would take a login over cleartext (FAIL), an ErrorResponse 28000 ("no
pg_hba.conf entry ... no encryption") means cleartext connections are refused (PASS). No
password is ever sent; the connection is closed at the first authentication request.

MySQL/MariaDB (3306, mysql_probe.py): the greeting's CLIENT_SSL flag says whether TLS is offered
at all (not offered: FAIL). When it is offered, whether cleartext logins are refused shows only
after a successful login (require_secure_transport is enforced after authentication), so without
database credentials the result is a skip that says TLS is offered, unless the server itself
answers the made-up cleartext login with ER_SECURE_TRANSPORT_REQUIRED (PASS) or lets it in (FAIL).
MSSQL is not covered yet.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.db.mysql_probe import MysqlFacts
from checks.db.postgres_probe import PgFacts
from checks.db.probe import DbTransport
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, SkipReason, Target
from scanner.net.text import sanitize


class DbCleartextExposed(SingleProbeCheck[PgFacts | MysqlFacts]):
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
    probe = DbTransport

    def judge(self, target: Target, got: PgFacts | MysqlFacts) -> Iterator[Finding | Skip]:
        if isinstance(got, MysqlFacts):
            yield from self._mysql(target, got)
            return
        pg = got
        where = f"PostgreSQL {target.host_port()}"
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
        where = f"{g.product if g else 'MySQL'} {target.host_port()}"
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
