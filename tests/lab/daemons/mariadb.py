"""MariaDB 10.11 (MySQL protocol, 3306): the weak file server's runs without TLS (`--skip-ssl`,
so the greeting does not set CLIENT_SSL); the hardened one has a lab-CA certificate, TLS 1.2+
and `require_secure_transport = ON` (db.cleartext_exposed).

A fresh `mariadb-install-db` per host (~0.5 s; root by unix socket only, a 4 MB redo log instead
of 96 MB), its own socket and pid file, listening on the host's lab address only. Traps:
`--no-defaults` must come first or /etc/mysql/my.cnf is read; mariadbd refuses to run as root, so
it starts as root and drops to the mysql user itself (`--user=mysql`), which must own the data,
socket and pid directories and be able to read the key. Without an account for a network host
the server answers every TCP client with ERR 1130 instead of a greeting, so an init file creates
the lab's application account ('ehr'@'%')."""

from __future__ import annotations

import shutil

from ..topology import DB_PASSWORD, DB_USER, LabHost
from . import Context, DaemonSpec, write


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "mariadb")
    data, run, tmp = d / "data", d / "run", d / "tmp"
    for sub in (data, run, tmp):
        if sub.exists():
            shutil.rmtree(sub)
    for sub in (run, tmp):
        sub.mkdir()
        shutil.chown(sub, "mysql", "mysql")
    # Its own tmpdir: the temporary tables of two bootstraps running at once in the shared /tmp vanished.
    common = ("--skip-name-resolve", "--innodb-log-file-size=4M", f"--tmpdir={tmp}")
    port = next(s.port for s in host.services if s.daemon == "mariadb")
    tls = "db.cleartext_exposed" not in host.gaps
    init = write(d / "init.sql", f"CREATE USER IF NOT EXISTS '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}';\n")
    setup: list[tuple[tuple[str, ...], str]] = [
        (("mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
          "--auth-root-authentication-method=socket", "--skip-test-db", *common), ""),
    ]
    args = [f"--bind-address={listen}", f"--port={port}", f"--socket={run / 'mysqld.sock'}",
            f"--pid-file={run / 'mysqld.pid'}", f"--init-file={init}", "--innodb-buffer-pool-size=16M",
            "--max-connections=100", "--performance-schema=OFF"]
    if tls:
        pair = ctx.pki.issue(f"{host.name}-mariadb", (host.dns_name or f"{host.name}.lab.test",), (host.address,))
        key = d / "server.key"
        setup.append((("install", "-o", "mysql", "-g", "mysql", "-m", "600", str(pair.key), str(key)), ""))
        args += [f"--ssl-cert={pair.cert}", f"--ssl-key={key}", "--tls-version=TLSv1.2,TLSv1.3",
                 "--require-secure-transport=ON"]
    else:
        args += ["--skip-ssl"]
    return [
        DaemonSpec(
            host=host.name,
            kinds=("mariadb",),
            namespace=host.namespace,
            argv=("mariadbd", "--no-defaults", "--user=mysql", f"--datadir={data}", *common, *args),
            console=d / "console.log",
            setup=tuple(setup),
        )
    ]
