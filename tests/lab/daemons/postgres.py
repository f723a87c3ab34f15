"""PostgreSQL 15: the weak file server's database accepts connections without TLS (`ssl = off`,
`host` lines); the hardened one has `ssl = on` with a lab-CA certificate and `hostssl` lines
only (db.cleartext_exposed). A fresh `initdb` (trust for the local socket only, ~1 s) per host;
the server runs as the postgres user via setpriv (exec, so the PID is the postmaster's)."""

from __future__ import annotations

import shutil

from ..topology import LabHost
from . import Context, DaemonSpec, write

AS_POSTGRES = ("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups")


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "postgres")
    data = d / "data"
    if data.exists():
        shutil.rmtree(data)
    port = next(s.port for s in host.services if s.daemon == "postgres")
    tls = "db.cleartext_exposed" not in host.gaps
    shutil.chown(d, "postgres", "postgres")
    conf = [f"listen_addresses = '{listen}'", f"port = {port}", f"unix_socket_directories = '{d}'",
            "max_connections = 20", "shared_buffers = 16MB", "logging_collector = off", "fsync = off"]
    setup: list[tuple[tuple[str, ...], str]] = [
        ((*AS_POSTGRES, "initdb", "-D", str(data), "-A", "peer", "-U", "postgres", "--no-sync", "--no-instructions"),
         ""),
    ]
    hba = "local all postgres peer\n"
    if tls:
        pair = ctx.pki.issue(f"{host.name}-postgres", (host.dns_name or f"{host.name}.lab.test",), (host.address,))
        key = d / "server.key"
        setup.append((("install", "-o", "postgres", "-g", "postgres", "-m", "600", str(pair.key), str(key)), ""))
        conf += ["ssl = on", f"ssl_cert_file = '{pair.cert}'", f"ssl_key_file = '{key}'",
                 "ssl_min_protocol_version = 'TLSv1.2'"]
        hba += "hostssl all all 0.0.0.0/0 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
    else:
        conf += ["ssl = off"]
        hba += "host all all 0.0.0.0/0 scram-sha-256\n"
    conf_file = write(d / "postgresql.conf", "\n".join(conf) + "\n")
    hba_file = write(d / "pg_hba.conf", hba)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("postgres",),
            namespace=host.namespace,
            argv=(*AS_POSTGRES, "postgres", "-D", str(data), "-c", f"config_file={conf_file}",
                  "-c", f"hba_file={hba_file}"),
            console=d / "console.log",
            setup=tuple(setup),
        )
    ]
