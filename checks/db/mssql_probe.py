"""The Microsoft SQL Server transport probe: one TDS PRELOGIN and its answer, then close.

Never a LOGIN7: the ENCRYPTION option of the server's PRELOGIN response already says whether
the server requires encryption (ENCRYPT_REQ), would encrypt only the login packet (ENCRYPT_OFF:
the queries and patient data then cross in clear) or cannot encrypt at all (ENCRYPT_NOT_SUP)
([MS-TDS] 2.2.6.5). There is no SQL Server in the lab (it does not run on Debian here): the wire
format is tested on bytes built from the specification, and the I/O on a loopback TDS peer.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_tcp, recv_exact, send_all

from . import mssql_wire as wire


@dataclass(frozen=True)
class MssqlFacts:
    response: wire.PreloginResponse

    def evidence(self) -> Evidence:
        r = self.response
        return Evidence(
            kind="tds-prelogin", summary=f"PRELOGIN ENCRYPTION {r.encryption_name}"
            + (f", server version {r.version}" if r.version else ""),
            data={"encryption": f"0x{r.encryption:02x}", "encryption_name": r.encryption_name,
                  "server_version": r.version, "options": [f"0x{t:02x}" for t in r.options],
                  "client_offered": "ENCRYPT_OFF", "login_sent": False},
            collected_at=utcnow(),
            method="TDS PRELOGIN ([MS-TDS] 2.2.6.5) offering ENCRYPT_OFF; the server's answer read, no LOGIN7 sent",
        )


class MssqlPrelogin(Probe[MssqlFacts]):
    name = "mssql-prelogin"

    def collect(self, target: Target, ctx: ProbeContext) -> MssqlFacts:
        assert target.host is not None and target.port is not None
        with connect_tcp(target.host, target.port, ctx.remaining(ctx.timeouts.connect), "TDS") as sock:
            send_all(sock, wire.prelogin_request(), "TDS PRELOGIN")
            deadline = ctx.until(ctx.timeouts.read)
            header = recv_exact(sock, wire.HEADER_LEN, deadline, "TDS PRELOGIN response")
            try:
                kind, length = wire.packet_length(header)
                payload = recv_exact(sock, length, deadline, "TDS PRELOGIN response")
                return MssqlFacts(wire.parse_prelogin_response(kind, payload))
            except wire.TdsError as exc:
                raise ProtocolError(f"TDS {target.host_port()}: {exc}") from exc
