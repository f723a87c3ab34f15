"""A Resilio Sync discovery emitter (the client is not packaged here): the `cloudsync.resilio` sender.

Resilio documents its LAN peer discovery as "Multicast UDP, 239.192.0.0 over port 3838" (help
centre: "What ports and protocols are used by Sync") but not the datagram format, so this
emitter sends an opaque, self-describing placeholder to that group from the host's address every
``INTERVAL`` seconds, TTL 1 (the segment only). The scanner claims nothing about the payload:
the destination group and port are the whole signature, and the test checks exactly that.
Run with the venv's Python inside the host's namespace.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..topology import LabHost
from . import Context, DaemonSpec, write

INTERVAL = 2.0
GROUP, PORT = "239.192.0.0", 3838
PAYLOAD = "gapscan lab: placeholder for Resilio Sync local discovery (format unpublished)"

SCRIPT = '''
import socket, sys, time
listen, group, port, interval, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(listen))
tx.bind((listen, 0))
print(f"emitting {len(payload)} bytes to {group}:{port} every {interval} s", flush=True)
while True:
    tx.sendto(payload.encode(), (group, port))
    time.sleep(interval)
'''


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "resilio")
    script = write(d / "emitter.py", SCRIPT)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("resilio-emitter",),
            namespace=host.namespace,
            argv=(sys.executable, "-I", "-S", str(Path(script)), listen, GROUP, str(PORT), str(INTERVAL), PAYLOAD),
            console=d / "console.log",
        )
    ]
