"""How many simultaneous handshakes one listening daemon takes before it drops SYNs.

Run inside the scanner's namespace by discovery_bench.py (stdin: JSON request, stdout: JSON):

    {"targets": [["198.18.1.1", 22], ...], "bursts": [4, 8, 16, 32, 64, 128]}

For each target and burst size N, N non-blocking connects start at once; each one's completion
time is recorded for up to 3.5 s. Linux retransmits an unanswered SYN after 1 s (RFC 6298 §2.1
initial RTO), so a connect that completes after 0.9 s had its first SYN dropped: the daemon's
listen backlog was full. Connections are closed with an RST as soon as they complete (what the
sweep does), and the next burst waits 1 s for the daemon's children to exit. Standard library
only (it runs with ``python -I -S``).
"""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
import sys
import time

LINGER_RST = struct.pack("ii", 1, 0)
WAIT = 3.5
DROPPED_AFTER = 0.9


def burst(address: str, port: int, count: int) -> dict[str, float | int]:
    poller = select.epoll()
    pending: dict[int, tuple[socket.socket, float]] = {}
    done: list[float] = []
    failed = 0
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        started = time.monotonic()
        err = sock.connect_ex((address, port))
        if err != errno.EINPROGRESS:
            failed += 1
            sock.close()
            continue
        pending[sock.fileno()] = (sock, started)
        poller.register(sock.fileno(), select.EPOLLOUT)
    deadline = time.monotonic() + WAIT
    while pending and (remaining := deadline - time.monotonic()) > 0:
        for fd, _event in poller.poll(remaining):
            sock, started = pending.pop(fd)
            poller.unregister(fd)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(time.monotonic() - started)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            else:
                failed += 1
            sock.close()
    for sock, _started in pending.values():
        sock.close()
    poller.close()
    late = sum(1 for t in done if t > DROPPED_AFTER)
    return {"burst": count, "answered": len(done), "first_syn_dropped": late, "unanswered": len(pending),
            "failed": failed, "slowest_s": round(max(done, default=0.0), 3)}


def main() -> int:
    request = json.load(sys.stdin)
    results = []
    for address, port in request["targets"]:
        for count in request["bursts"]:
            results.append({"address": address, "port": port, **burst(address, port, count)})
            time.sleep(1.0)
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
