"""One module per daemon kind. Each exposes ``build(host, ctx, listen) -> list[DaemonSpec]``.

A builder writes its configuration under ``ctx.dir(host, kind)`` and returns how to start the
daemon; it reads ``host.gaps`` to decide what to plant, so the topology table stays the single
source of truth. Nothing here starts a process: lab.py does, inside the host's namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..certs import LabPki
from ..topology import LabHost


@dataclass(frozen=True)
class DaemonSpec:
    """How to run one daemon process inside a namespace.

    The process is started in the foreground when the daemon allows it, so the PID of the Popen
    is the daemon's own PID; ``pidfile`` is for daemons that insist on forking, and
    ``extra_pidfiles`` for helpers the process starts itself (rpcbind next to ganesha).
    ``setup`` commands run to completion first (e.g. creating a passdb). ``logs`` are the
    daemon's own log files, shown with the console log when it fails to start. ``kinds`` are the
    LabService.daemon values it serves; lab.py derives the endpoints to wait for from them.
    """

    host: str
    kinds: tuple[str, ...]
    namespace: str
    argv: tuple[str, ...]
    console: Path
    logs: tuple[Path, ...] = ()
    pidfile: Path | None = None
    extra_pidfiles: tuple[Path, ...] = ()
    setup: tuple[tuple[tuple[str, ...], str], ...] = ()  # (argv, stdin text)

    @property
    def name(self) -> str:
        return f"{self.host}/{self.kinds[0]}"


@dataclass
class Context:
    """What every builder needs: the lab's temp root and its PKI."""

    root: Path
    pki: LabPki

    def dir(self, host: LabHost, kind: str) -> Path:
        """A fresh directory for one daemon of one host, traversable by the daemons' own users
        (postfix, dovecot, ftp, www-data run as non-root and must reach their files)."""
        d = self.root / host.name / kind
        d.mkdir(parents=True, exist_ok=True)
        for p in (self.root, self.root / host.name, d):
            os.chmod(p, 0o755)
        return d


Builder = Callable[[LabHost, Context, str], list[DaemonSpec]]


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def builders() -> dict[str, Builder]:
    """Daemon kind (as named in LabService.daemon) -> builder. Imported lazily: cheap to import."""
    from . import (
        dovecot,
        dropbox_emitter,
        endpoint,
        mariadb,
        nfs,
        nginx,
        nsd,
        postfix,
        postgres,
        resilio_emitter,
        samba,
        snmpd,
        sshd,
        syncthing,
        telnetd,
        vsftpd,
        xrdp,
        xvnc,
    )

    return {
        "smbd": samba.build,
        "vsftpd": vsftpd.build,
        "ganesha": nfs.build,
        "rpcbind": nfs.build_none,  # started together with ganesha (shared private /run)
        "postfix": postfix.build,
        "dovecot": dovecot.build,
        "nsd": nsd.build,
        "nginx": nginx.build,
        "sshd": sshd.build,
        "endpoint-sshd": endpoint.build,  # credentialed laptops: sshd in private mount+PID namespaces (issue 8)
        "postgres": postgres.build,  # PostgreSQL 15 (db.cleartext_exposed)
        "mariadb": mariadb.build,  # MariaDB 10.11, MySQL protocol on 3306 (db.cleartext_exposed)
        "snmpd": snmpd.build,  # net-snmp (snmp.default_community)
        "xrdp": xrdp.build,  # xrdp, Standard RDP Security (rdp.nla_not_required)
        "xvnc": xvnc.build,  # TigerVNC Xvnc (cleartext.vnc)
        "inetd": telnetd.build,  # inetutils-inetd + telnetd (cleartext.telnet)
        "syncthing": syncthing.build,  # Debian's Syncthing, local discovery only (cloudsync.syncthing)
        "dropbox-emitter": dropbox_emitter.build,  # Dropbox LAN sync broadcasts + TCP 17500 (cloudsync.dropbox_lansync)
        "resilio-emitter": resilio_emitter.build,  # UDP to Resilio's group 239.192.0.0:3838 (cloudsync.resilio)
    }
