"""An mDNS announcer (RFC 6762 section 8.3): a host naming itself ``<name>.local`` on the link.

What avahi-daemon does when a Linux file server starts, reduced to the part discovery listens
for: every ``INTERVAL`` seconds an unsolicited response (QR and AA set, id 0, source port 5353,
IP TTL 255) to 224.0.0.251:5353 from the host's address, with an A record ``<name>.local ->
address`` and the reverse PTR record. Stdlib only, the wire built by hand; run with the venv's
Python inside the host's namespace. Started next to the Samba hosts' smbd (tests/lab/daemons/samba.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..topology import LabHost
from . import Context, DaemonSpec, write

INTERVAL = 2.0
GROUP, PORT = "224.0.0.251", 5353

SCRIPT = '''
import socket, struct, sys, time
listen, name, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
def labels(text):
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\\x00"
rev = ".".join(reversed(listen.split("."))) + ".in-addr.arpa"
a = labels(name) + struct.pack("!HHIH", 1, 0x8001, 120, 4) + socket.inet_aton(listen)
target = labels(name)
ptr = labels(rev) + struct.pack("!HHIH", 12, 0x8001, 120, len(target)) + target
wire = struct.pack("!HHHHHH", 0, 0x8400, 0, 2, 0, 0) + a + ptr
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(listen))
tx.bind((listen, 5353))
print(f"announcing {name} -> {listen} to 224.0.0.251:5353 every {interval} s", flush=True)
while True:
    tx.sendto(wire, ("224.0.0.251", 5353))
    time.sleep(interval)
'''


def mdns_name(host: LabHost) -> str:
    return f"{host.name}.local"


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    if listen == "0.0.0.0":
        return []  # a host of many addresses (the dense range) announces none
    d = ctx.dir(host, "mdns")
    script = write(d / "announcer.py", SCRIPT)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("mdns-announcer",),  # no LabService: UDP 5353 is not in the lab's ground truth
            namespace=host.namespace,
            argv=(sys.executable, "-I", "-S", str(Path(script)), listen, mdns_name(host), str(INTERVAL)),
            console=d / "console.log",
        )
    ]
