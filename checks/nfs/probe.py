"""NFS export facts over the portmapper and the MOUNT protocol, as ``showmount -e`` sees them.

Planned on the ``rpcbind`` service (111/tcp) only, so a host yields one target however many of
rpcbind, mountd and nfs are open (planning it on ``nfs`` or ``mountd`` too would duplicate every
finding). The probe asks the portmapper where MOUNT v3 listens over TCP, then asks MOUNT for its
export list. Nothing is mounted. Some servers (nfs-ganesha among them) leave out exports the
asking client may not use, so the list is what *this scanner's address* is offered.
Root squashing is not part of the MOUNT protocol and cannot be observed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.nfs.rpc import MOUNT_PROG, MOUNT_VERS, Export, RpcClient, getport, mount_exports
from scanner.check import Probe, ProbeContext
from scanner.models import Evidence, Target, Transport, utcnow
from scanner.net.text import sanitize

NOT_OBSERVABLE = "root squash and the export's security flavours are not reported by MOUNT; not judged"


@dataclass(frozen=True)
class NfsExportFacts:
    rpcbind_port: int
    mount_port: int | None  # None: MOUNT v3 over TCP not registered with the portmapper
    exports: tuple[Export, ...] = ()
    auth_flavor: str = ""  # the credential flavour the EXPORT call needed

    def evidence(self) -> Evidence:
        if self.mount_port is None:
            summary = "MOUNT v3/TCP not registered with the portmapper"
        else:
            summary = f"{len(self.exports)} export(s) from MOUNT on port {self.mount_port}: " + "; ".join(
                f"{sanitize(e.path, 80)} -> {', '.join(sanitize(g, 60) for g in e.groups) or '(everyone)'}"
                for e in self.exports[:20])
        return Evidence(
            kind="nfs-exports",
            summary=summary,
            data={"rpcbind_port": self.rpcbind_port, "mount_port": self.mount_port,
                  "exports": [{"path": sanitize(e.path, 256), "groups": [sanitize(g, 256) for g in e.groups]}
                              for e in self.exports],
                  "auth_flavor": self.auth_flavor, "not_observable": NOT_OBSERVABLE},
            collected_at=utcnow(),
            method="ONC RPC over TCP: portmapper GETPORT(100005 v3 tcp), MOUNTPROC3_EXPORT; no mount",
        )


class NfsExports(Probe[NfsExportFacts]):
    """Portmapper GETPORT + MOUNT EXPORT on a host's rpcbind service."""

    name = "nfs-exports"

    @classmethod
    def applies(cls, target: Target) -> bool:
        # The client speaks RPC over TCP only; a 111/udp target is skipped, not half-probed.
        return target.transport in (None, Transport.TCP)

    def collect(self, target: Target, ctx: ProbeContext) -> NfsExportFacts:
        assert target.host is not None and target.port is not None
        deadline = ctx.until(ctx.timeouts.probe)
        timeouts = {"connect_timeout": ctx.timeouts.connect, "read_timeout": ctx.timeouts.read,
                    "deadline": deadline}
        with RpcClient(target.host, target.port, what="portmapper", **timeouts) as pmap:
            mount_port = getport(pmap, MOUNT_PROG, MOUNT_VERS)
        if mount_port == 0:
            return NfsExportFacts(rpcbind_port=target.port, mount_port=None)
        with RpcClient(target.host, mount_port, what="MOUNT", **timeouts) as mount:
            exports, flavor = mount_exports(mount)
        return NfsExportFacts(rpcbind_port=target.port, mount_port=mount_port, exports=exports, auth_flavor=flavor)
