"""nfs.open_export — an NFS export offered to every host (or a very wide network).

NFSv3 with AUTH_SYS trusts the uid the client claims, so an export any host may mount lets
anyone on the network read (or, read-write, alter) its files as whichever user they claim: a
gap against 164.312(a)(1) and 164.312(d) (mapping in profiles/frameworks). World-accessible
here means a client list that is empty (everyone), ``*``, a wildcard host pattern, or an IPv4
network of /16 or larger (IPv6 /48 or larger). Netgroups (``@name``) cannot be resolved over
MOUNT and are not judged open. Root squash is invisible to MOUNT and is not judged either.
One finding per export (discriminator: the export path).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from checks.nfs.probe import NOT_OBSERVABLE, NfsExportFacts, NfsExports
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, SkipReason, Target
from scanner.net.backups import looks_like_backup
from scanner.net.text import sanitize

WIDEST_V4, WIDEST_V6 = 16, 48  # prefixes this short or shorter count as "everyone"


def open_reason(group: str) -> str | None:
    """Why a client group admits the world, or None when it is a real restriction."""
    name = group.strip()
    if name in ("*", "(everyone)", "everyone"):
        return "any host"
    if "*" in name or "?" in name:
        return "a wildcard host pattern"
    if "/" in name:
        try:
            net = ipaddress.ip_network(name, strict=False)
        except ValueError:
            return None
        if net.prefixlen <= (WIDEST_V4 if net.version == 4 else WIDEST_V6):
            return f"a /{net.prefixlen} network ({net.num_addresses:,} addresses)"
    return None


class NfsOpenExport(SingleProbeCheck[NfsExportFacts]):
    meta = CheckMeta(
        id="nfs.open_export",
        title="NFS export is open to any host",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"rpcbind"})),
        intrusive=False,
        why=(
            "A network folder is offered to any machine that asks, with no user login. Whoever can reach it can "
            "read (and possibly change) the files in it."
        ),
        remediation=(
            "Export only to the hosts that need the share (Linux /etc/exports: 'host1(rw,root_squash,sec=krb5p)', "
            "never '*' or a whole network; nfs-ganesha: 'Clients = host1, host2; Squash = Root_Squash'), keep "
            "root squashing on, and prefer NFSv4 with Kerberos (sec=krb5p) for ePHI."
        ),
        description="Lists the exports over portmapper + MOUNT (like showmount -e) and judges each client list.",
    )
    probe = NfsExports

    def judge(self, target: Target, nfs: NfsExportFacts) -> Iterator[Finding | Skip]:
        where = target.host_port()
        if nfs.mount_port is None:
            yield self.skip(target, SkipReason.NOT_APPLICABLE,
                            f"{where}: no MOUNT v3 service registered with the portmapper; exports of an "
                            "NFSv4-only server cannot be listed over MOUNT")
            return
        evidence = [nfs.evidence()]
        if not nfs.exports:
            yield self.finding(target, passed=True, evidence=evidence,
                               detail=f"{where}: MOUNT on port {nfs.mount_port} lists no export to this scanner "
                                      "(an export open to any host would be listed)")
            return
        for export in nfs.exports:
            path = sanitize(export.path, 120)
            reasons = [(g, r) for g in (export.groups or ("(everyone)",)) if (r := open_reason(g))]
            if reasons:
                detail = f"{where}: export {path} is open to " + "; ".join(
                    f"{sanitize(g, 60)!r} ({r})" for g, r in reasons)
            else:
                detail = f"{where}: export {path} restricted to " + ", ".join(sanitize(g, 60) for g in export.groups)
            backup = looks_like_backup(export.path.rstrip("/").rsplit("/", 1)[-1])
            if reasons and backup:
                detail += "; the export's name looks like BACKUPS"
            yield self.finding(target, passed=not reasons, detail=f"{detail}; {NOT_OBSERVABLE}",
                               evidence=evidence, discriminator=export.path,
                               severity=Severity.CRITICAL if reasons and backup else None)
