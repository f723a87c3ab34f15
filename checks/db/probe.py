"""The one probe of db.cleartext_exposed: each database service gets its own protocol's questions."""

from __future__ import annotations

from checks.db.mysql_probe import MysqlFacts, MysqlHandshake
from checks.db.postgres_probe import PgFacts, PgStartup
from scanner.check import Probe, ProbeContext
from scanner.models import Target


class DbTransport(Probe[PgFacts | MysqlFacts]):
    """Routes by the discovered service: the MySQL protocol for "mysql", PostgreSQL's otherwise."""

    name = "db-transport"

    def collect(self, target: Target, ctx: ProbeContext) -> PgFacts | MysqlFacts:
        if target.service == "mysql":
            return MysqlHandshake().collect(target, ctx)
        return PgStartup().collect(target, ctx)
