"""TCP reachability probe, run *inside* the scanner namespace (``python -I -S probe.py``).

Reads a JSON request on stdin: {"endpoints": [[address, port, banner], ...], "deadline": s,
"connect_timeout": s}. Retries every pending endpoint until all accept (and greet with the
expected banner, if one is given) or the deadline passes. Writes {"pending": [[address, port,
reason], ...]} on stdout. Standard library only, no imports from the package: it runs under
`ip netns exec` with `-I -S` for a fast start.
"""

import json
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def attempt(address: str, port: int, banner: str, timeout: float) -> "str | None":
    """None when the endpoint is ready, else a short reason."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            if not banner:
                return None
            sock.settimeout(timeout)
            data = b""
            while len(data) < len(banner):
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
            got = data.decode("latin-1")
            return None if got.startswith(banner) else f"banner {got[:40]!r}, expected {banner!r}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def main() -> None:
    request = json.load(sys.stdin)
    pending = {(a, p, b): "not tried" for a, p, b in request["endpoints"]}
    deadline = time.monotonic() + float(request["deadline"])
    timeout = float(request.get("connect_timeout", 2.0))
    with ThreadPoolExecutor(max_workers=64) as pool:
        while pending:
            keys = list(pending)
            results = pool.map(lambda k: attempt(k[0], k[1], k[2], timeout), keys)
            for key, reason in zip(keys, results, strict=False):
                if reason is None:
                    del pending[key]
                else:
                    pending[key] = reason
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    json.dump({"pending": [[a, p, reason] for (a, p, _), reason in pending.items()]}, sys.stdout)


if __name__ == "__main__":
    main()
