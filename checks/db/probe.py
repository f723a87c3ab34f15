"""The one probe of db.cleartext_exposed: each database service gets its own protocol's questions."""

from __future__ import annotations

from checks.db.mssql_probe import MssqlFacts, MssqlPrelogin
from checks.db.mysql_probe import MysqlFacts, MysqlHandshake
from checks.db.postgres_probe import PgFacts, PgStartup
from scanner.check import Probe, ProbeContext
from scanner.models import Target

DbFacts = PgFacts | MysqlFacts | MssqlFacts


class DbTransport(Probe[DbFacts]):
    """Routes by the discovered service: MySQL's protocol for "mysql", TDS for "mssql",
    PostgreSQL's otherwise."""

    name = "db-transport"

    def collect(self, target: Target, ctx: ProbeContext) -> DbFacts:
        if target.service == "mysql":
            return MysqlHandshake().collect(target, ctx)
        if target.service == "mssql":
            return MssqlPrelogin().collect(target, ctx)
        return PgStartup().collect(target, ctx)
