"""SyncListener against loopback servers: a TLS server shaped like Syncthing's (self-signed, CN
"syncthing", ALPN bep/1.0), a TLS server that is something else, a plain-TCP service that greets
first, and a closed port (a ProbeError, never a verdict)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks.cloudsync.listener import SyncListener
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError
from scanner.models import Target, Transport

CTX = ProbeContext(timeouts=TimeoutConfig(connect=2, read=2))


def _cert(tmp: Path, cn: str) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


@contextmanager
def _serve(tls: ssl.SSLContext | None = None, greeting: bytes = b"") -> Iterator[int]:
    """One connection served on a loopback port (TLS with ``tls``, else a cleartext greeting)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def run() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            try:
                if tls is not None:
                    with tls.wrap_socket(conn, server_side=True) as wrapped:
                        wrapped.recv(1)
                else:
                    conn.sendall(greeting)
                    conn.recv(4096)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(5)


def _target(port: int, service: str = "syncthing") -> Target:
    return Target(host="127.0.0.1", port=port, transport=Transport.TCP, service=service)


def _tls_server(tmp: Path, cn: str, alpn: list[str]) -> tuple[ssl.SSLContext, bytes]:
    cert, key, der = _cert(tmp, cn)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(alpn)
    return context, der


def test_a_syncthing_shaped_server_is_verified_with_its_device_id(tmp_path: Path) -> None:
    context, der = _tls_server(tmp_path, "syncthing", ["bep/1.0"])
    with _serve(tls=context) as port:
        facts = SyncListener().collect(_target(port), CTX)
    assert facts is not None and facts.verified and facts.tls
    assert (facts.alpn, facts.common_name) == ("bep/1.0", "syncthing")
    assert facts.device_id_short == base64.b32encode(hashlib.sha256(der).digest()).decode()[:7]


def test_another_tls_server_is_tls_but_not_syncthing(tmp_path: Path) -> None:
    context, _ = _tls_server(tmp_path, "portal.example.test", ["h2"])
    with _serve(tls=context) as port:
        facts = SyncListener().collect(_target(port), CTX)
    assert facts is not None and facts.tls and not facts.verified and facts.device_id_short is None
    assert "not Syncthing" in facts.note


def test_a_service_that_greets_in_cleartext_is_not_syncthing() -> None:
    with _serve(greeting=b"SSH-2.0-OpenSSH_9.2\r\n") as port:
        facts = SyncListener().collect(_target(port), CTX)
    assert facts is not None and not facts.tls and not facts.verified and "not Syncthing" in facts.note


def test_dropbox_port_is_only_a_tcp_accept() -> None:
    with _serve() as port:
        facts = SyncListener().collect(_target(port, "dropbox"), CTX)
    assert facts is not None and not facts.verified and "protocol not identified" in facts.note


def test_a_closed_port_is_an_error_not_a_verdict() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ProbeError):
        SyncListener().collect(_target(port), CTX)


def test_the_network_target_has_no_port_to_verify() -> None:
    assert SyncListener().collect(Target(service="network"), CTX) is None
