"""A real RFC 3161 timestamp authority for the tests: ``openssl ts -reply`` behind a few lines of
``http.server`` (RFC 3161 §3.4: POST application/timestamp-query, answer
application/timestamp-reply). Never a public TSA.

``TsaFiles.create(DIR)`` makes a lab CA and a TSA certificate it signs (extended key usage
timeStamping, critical, as RFC 3161 §2.3 requires) and the ``openssl ts`` configuration.
``serve(files, host, port)`` answers on loopback in a thread (unit tests); ``python -m
tests.lab.tsa serve DIR HOST PORT`` runs the same server as a process (inside a lab namespace).
``TsaServer.mode`` makes it misbehave on purpose: ``hang`` (accept, never answer), ``garbage``
(200 with bytes that are not a reply), ``refuse`` (HTTP 500).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POLICY = "1.3.6.1.4.1.55555.21.1"  # a private arc for the lab's TSA policy

CONFIG = """\
[ tsa ]
default_tsa = lab_tsa

[ lab_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()[-400:]}")


@dataclass(frozen=True)
class TsaFiles:
    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "tsa.cnf"

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def tsa_cert(self) -> Path:
        return self.directory / "tsa.crt"

    @classmethod
    def create(cls, directory: Path, name: str = "gapscan lab TSA") -> TsaFiles:
        directory.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                 "-subj", "/O=gapscan lab/CN=gapscan lab TSA CA", "-keyout", "ca.key", "-out", "ca.crt",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
                 cwd=directory)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/O=gapscan lab/CN={name}",
                 "-keyout", "tsa.key", "-out", "tsa.csr", cwd=directory)
        (directory / "tsa.ext").write_text(TSA_EXT)
        _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "30", "-extfile", "tsa.ext", "-out", "tsa.crt", cwd=directory)
        (directory / "serial").write_text("01\n")
        for key in ("ca.key", "tsa.key"):
            (directory / key).chmod(0o600)
        files = cls(directory)
        files.config.write_text(CONFIG.format(dir=directory, policy=POLICY))
        return files

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            _openssl("ts", "-reply", "-config", str(self.config), "-queryfile", str(q), "-out", str(r),
                     cwd=self.directory)
            return r.read_bytes()


class TsaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: TsaFiles, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.files = files
        self.mode = "ok"
        self.requests = 0
        self.release = threading.Event()  # ends a "hang" early when the server stops

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/tsa"


class _Handler(BaseHTTPRequestHandler):
    server: TsaServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        query = self.rfile.read(min(length, 65536))
        if self.server.mode == "hang":
            self.server.release.wait(120)
            return
        if self.server.mode == "refuse":
            self.send_error(500, "lab TSA told to refuse")
            return
        if self.headers.get("Content-Type") != "application/timestamp-query":
            self.send_error(415, "expected application/timestamp-query")
            return
        body = b"\x30\x03garbage" if self.server.mode == "garbage" else self.server.files.reply(query)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(files: TsaFiles, host: str = "127.0.0.1", port: int = 0) -> Iterator[TsaServer]:
    server = TsaServer(files, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main(argv: list[str]) -> int:
    """``serve DIR HOST PORT``: a TSA process (in a lab namespace) until it is terminated."""
    if len(argv) != 4 or argv[0] != "serve":
        print("usage: python -m tests.lab.tsa serve DIR HOST PORT", file=sys.stderr)
        return 2
    files = TsaFiles(Path(argv[1]))
    with serve(files, argv[2], int(argv[3])) as server:
        print(f"lab TSA on {server.url}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
