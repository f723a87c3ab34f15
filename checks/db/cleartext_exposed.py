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
Microsoft SQL Server (1433, mssql_probe.py): one TDS PRELOGIN offering ENCRYPT_OFF; the server's
ENCRYPTION answer is its policy ([MS-TDS] 2.2.6.5): ENCRYPT_REQ (or ON) = every packet encrypted
(PASS); ENCRYPT_OFF = only the login packet is encrypted, queries and results cross in clear (FAIL);
ENCRYPT_NOT_SUP = no encryption at all (FAIL). No LOGIN7 is ever sent.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.db import mssql_wire
from checks.db.mssql_probe import MssqlFacts
from checks.db.mysql_probe import MysqlFacts
from checks.db.probe import DbFacts, DbTransport
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, SkipReason, Target, Undetermined
from scanner.net.text import sanitize


class DbCleartextExposed(SingleProbeCheck[DbFacts]):
    meta = CheckMeta(
        id="db.cleartext_exposed",
        title="Database accepts connections without TLS",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"postgresql", "mysql", "mssql"})),
        why=(
            "The database, which may hold patient records, takes connections without encryption. Logins and the "
            "records themselves can then cross the network readable by anyone who can watch the traffic."
        ),
        remediation=(
            "Enable TLS on the database with a CA-issued certificate and require it for every network client "
            "(PostgreSQL: ssl = on and hostssl lines only, or hostnossl ... reject in pg_hba.conf; MySQL/MariaDB: "
            "ssl_cert/ssl_key and require_secure_transport = ON; SQL Server: a CA-issued certificate and Force "
            "Encryption = Yes in SQL Server Configuration Manager); keep the database off networks that do not "
            "need it."
        ),
        description="PostgreSQL SSLRequest, then a plaintext StartupMessage for a made-up user; MySQL/MariaDB "
                    "greeting (CLIENT_SSL), then a cleartext login for a made-up user; no password. SQL Server: "
                    "the TDS PRELOGIN ENCRYPTION answer; no login.",
    )
    probe = DbTransport

    def judge(self, target: Target, got: DbFacts) -> Iterator[Finding | Skip | Undetermined]:
        if isinstance(got, MysqlFacts):
            yield from self._mysql(target, got)
            return
        if isinstance(got, MssqlFacts):
            yield from self._mssql(target, got)
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

    def _mysql(self, target: Target, my: MysqlFacts) -> Iterator[Finding | Skip | Undetermined]:
        g = my.greeting
        where = f"{g.product if g else 'MySQL'} {target.host_port()}"
        if g is None:
            err = my.refused
            if err is None:
                yield self.undetermined(target, ErrorReason.PROTOCOL, f"{where}: neither a greeting nor an error "
                                        "was recorded", evidence=[my.evidence()])
                return
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

    def _mssql(self, target: Target, ms: MssqlFacts) -> Iterator[Finding | Undetermined]:
        r = ms.response
        where = f"SQL Server {target.host_port()}" + (f" ({r.version})" if r.version else "")
        verdicts = {
            mssql_wire.ENCRYPT_REQ: (True, "requires encryption (ENCRYPT_REQ): every packet is encrypted"),
            mssql_wire.ENCRYPT_ON: (True, "encrypts the connection (ENCRYPT_ON)"),
            mssql_wire.ENCRYPT_OFF: (False, "encrypts only the login packet (ENCRYPT_OFF): queries and results "
                                            "cross the network in clear"),
            mssql_wire.ENCRYPT_NOT_SUP: (False, "cannot encrypt at all (ENCRYPT_NOT_SUP)"),
        }
        verdict = verdicts.get(r.encryption_value)
        if verdict is None:
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{where}: PRELOGIN ENCRYPTION {r.encryption_name} "
                                    "is not a value [MS-TDS] defines", evidence=[ms.evidence()])
            return
        passed, text = verdict
        yield self.finding(target, passed=passed, detail=f"{where}: {text}", evidence=[ms.evidence()])
