"""Network namespaces for the lab: a switch namespace holding the bridge, one namespace per host.

Layout: ``gs-sw`` holds bridge ``br0``; every other namespace is joined to it by a veth pair
(``eth0`` inside the host, ``v-<host>`` on the bridge). The root namespace gets no interface and
no route into the lab, and no lab namespace has a default route: a connect to anything outside
the lab fails at once with ENETUNREACH instead of leaving the machine.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .proc import LabError, run
from .topology import BRIDGE, NS_PREFIX, SWITCH_NS

ETC_NETNS = Path("/etc/netns")
RUN_NETNS = Path("/run/netns")


@dataclass(frozen=True)
class Attachment:
    """One namespace on the bridge: its address (CIDR) and any extra routes ("DST via GW")."""

    namespace: str
    address: str  # e.g. "198.18.0.10/24"
    routes: tuple[str, ...] = ()

    @property
    def bridge_port(self) -> str:
        # IFNAMSIZ is 16 including the NUL: keep the port name within 15 characters.
        return ("v-" + self.namespace.removeprefix(NS_PREFIX))[:15]


def lab_namespaces() -> list[str]:
    """Every existing namespace whose name carries the lab prefix (ours, or a crashed run's)."""
    out = run(["ip", "netns", "list"], timeout=10).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(NS_PREFIX))


def namespace_pids(namespace: str) -> list[int]:
    """PIDs of every process whose network namespace is ``namespace`` (daemons and their forks)."""
    done = run(["ip", "netns", "pids", namespace], timeout=10, check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def _batch(namespace: str | None, commands: Sequence[str]) -> None:
    """Apply many `ip` commands in one process (fast), in a namespace if given."""
    argv = ["ip", *(["-n", namespace] if namespace else []), "-batch", "-"]
    run(argv, input_text="\n".join(commands) + "\n", timeout=30)


def _sysctl(namespace: str, settings: dict[str, str]) -> None:
    # Per-namespace sysctls (net.*) are written through /proc/sys inside the namespace.
    args = [f"{k}={v}" for k, v in settings.items()]
    run(["ip", "netns", "exec", namespace, "sysctl", "-q", "-w", *args], timeout=10)


def build(attachments: Sequence[Attachment]) -> None:
    """Create the switch namespace, the bridge and every attached namespace with its address."""
    run(["ip", "netns", "add", SWITCH_NS], timeout=10)
    _batch(SWITCH_NS, [f"link add {BRIDGE} type bridge", f"link set {BRIDGE} up", "link set lo up"])
    _attach(attachments)


def attach(attachment: Attachment) -> None:
    """One more namespace on the running lab's bridge: a test's own host (remove it with delete())."""
    _attach([attachment])


def _attach(attachments: Sequence[Attachment]) -> None:
    for a in attachments:
        run(["ip", "netns", "add", a.namespace], timeout=10)
    sw: list[str] = []
    for a in attachments:
        sw += [
            f"link add {a.bridge_port} type veth peer name eth0 netns {a.namespace}",
            f"link set {a.bridge_port} master {BRIDGE}",
            f"link set {a.bridge_port} up",
        ]
    _batch(SWITCH_NS, sw)
    for a in attachments:
        host = ["link set lo up", f"addr add {a.address} dev eth0", "link set eth0 up"]
        host += [f"route add {r}" for r in a.routes]
        _batch(a.namespace, host)
        # No IPv6 on the lab links: the lab is IPv4 only, and SLAAC/DAD chatter would only add
        # noise to packet captures (::1 on lo stays).
        _sysctl(a.namespace, {"net.ipv6.conf.eth0.disable_ipv6": "1"})


def add_local_addresses(namespace: str, network: str) -> None:
    """Give ``namespace`` every host address of ``network`` as a /32 on lo (the dense /24).

    /32s rather than a `local` /24 route so that the network and broadcast addresses stay dead,
    as on a real segment. (The kernel here has no dummy interface type: lo it is.)
    """
    net = ipaddress.ip_network(network)
    _batch(namespace, [f"addr add {ip}/32 dev lo" for ip in net.hosts()])
    # Forking daemons have small listen backlogs (docs/lab-notes.md: a 2 s sweep lost ports to dropped
    # SYNs); raise the namespace's caps so daemons that ask for more get it.
    _sysctl(namespace, {"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "4096"})


def reject_tcp_to(namespace: str, address: str) -> None:
    """Answer every TCP SYN to ``address`` with a RST (nftables), so daemons bound to 0.0.0.0 in
    the dense namespace are not also visible on its router address in the practice network."""
    rules = (
        "table inet gslab {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"    ip daddr {address} meta l4proto tcp reject with tcp reset\n"
        "  }\n"
        "}\n"
    )
    run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input_text=rules, timeout=10)


def write_etc(namespace: str, nameserver: str, hosts: Iterable[tuple[str, str]], hostname: str) -> None:
    """/etc/netns/NS/{resolv.conf,hosts}: `ip netns exec` bind-mounts them over /etc.

    docs/lab-notes.md: without them daemons resolve through the outside resolver or stall (smbd looks up
    the machine's hostname on every connection: 1 in 25 stalled 5 s).
    """
    d = ETC_NETNS / namespace
    d.mkdir(parents=True, exist_ok=True)
    (d / "resolv.conf").write_text(f"nameserver {nameserver}\noptions timeout:1 attempts:2\n")
    lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{hostname}", "::1\tlocalhost ip6-localhost"]
    lines += [f"{addr}\t{name}" for addr, name in hosts]
    (d / "hosts").write_text("\n".join(lines) + "\n")


def remove_etc(namespaces: Iterable[str] | None = None) -> None:
    """Remove /etc/netns/<ns> for the given namespaces, or every lab one."""
    if not ETC_NETNS.is_dir():
        return
    names = (
        list(namespaces)
        if namespaces is not None
        else [p.name for p in ETC_NETNS.iterdir() if p.name.startswith(NS_PREFIX)]
    )
    for name in names:
        if name.startswith(NS_PREFIX):
            shutil.rmtree(ETC_NETNS / name, ignore_errors=True)


def delete(namespaces: Iterable[str]) -> list[str]:
    """Delete namespaces (veth pairs go with them); return the names that could not be removed."""
    failed = []
    for ns in namespaces:
        if not ns.startswith(NS_PREFIX):
            raise LabError(f"refusing to delete non-lab namespace {ns!r}")
        done = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True, timeout=10)
        if done.returncode != 0 and (RUN_NETNS / ns).exists():
            failed.append(f"{ns}: {done.stderr.strip()}")
    return failed
