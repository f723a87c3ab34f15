"""A Dropbox LAN sync emitter (the client cannot run here): the `cloudsync.dropbox_lansync` sender.

Sends the documented discovery broadcast — a JSON object with host_int, version, displayname,
port and namespaces — to 198.18.0.255:17500 from the host's address every ``INTERVAL`` seconds
(the real client: about 30 s; faster in the lab so a short window hears it), and accepts TCP
connections on 17500 like the client's LAN sync listener (it closes them at once). Run with the
venv's Python inside the host's namespace.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..topology import PRACTICE_NET, LabHost
from . import Context, DaemonSpec, write

INTERVAL = 2.0
# Fixed, fake ids: the scanner must report their count and a short hash, never these values.
HOST_INT = 299419618241374921466394183741094513017
NAMESPACES = (1234567890, 2345678901, 3456789012)

SCRIPT = '''
import ipaddress, json, socket, sys, threading, time
listen, port, broadcast, interval, host_int, namespaces = sys.argv[1], int(sys.argv[2]), sys.argv[3], \\
    float(sys.argv[4]), int(sys.argv[5]), [int(n) for n in sys.argv[6].split(",")]
srv = socket.create_server((listen, port), backlog=64)
def serve():
    while True:
        conn, _ = srv.accept()
        conn.close()
threading.Thread(target=serve, daemon=True).start()
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
tx.bind((listen, 0))
msg = json.dumps({"host_int": host_int, "version": [2, 0], "displayname": "", "port": port,
                  "namespaces": namespaces}).encode()
print(f"emitting {len(msg)} bytes to {broadcast}:{port} every {interval} s", flush=True)
while True:
    tx.sendto(msg, (broadcast, port))
    time.sleep(interval)
'''


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    import ipaddress

    d = ctx.dir(host, "dropbox")
    port = next(s.port for s in host.services if s.daemon == "dropbox-emitter" and s.transport == "tcp")
    script = write(d / "emitter.py", SCRIPT)
    broadcast = str(ipaddress.ip_network(PRACTICE_NET).broadcast_address)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("dropbox-emitter",),
            namespace=host.namespace,
            argv=(sys.executable, "-I", "-S", str(Path(script)), listen, str(port), broadcast, str(INTERVAL),
                  str(HOST_INT), ",".join(str(n) for n in NAMESPACES)),
            console=d / "console.log",
        )
    ]
