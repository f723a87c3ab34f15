"""Service identification: banner parsing on recorded greetings, and identify() against real
listeners on 127.0.0.x (greeting, silence, garbage, closed, plain and TLS HTTP)."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanner.discovery.identify import (
    BANNER_MAX,
    IdentifyTimeouts,
    classify_greeting,
    clean_banner,
    identify,
    identify_all,
    parse_http_response,
)
from scanner.errors import OutOfScopeError
from scanner.models import Service
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope

FAST = IdentifyTimeouts(connect=1.0, greeting=1.0, unknown_greeting=0.3, exchange=1.0)
ADDR = "127.0.0.4"


# ------------------------------------------------------------------- parsing (recorded output)

@pytest.mark.parametrize(
    ("greeting", "service", "product", "version"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "ssh", "OpenSSH", "9.2p1"),
        (b"SSH-2.0-dropbear_2022.83\r\n", "ssh", "dropbear", "2022.83"),
        (b"SSH-1.99-Cisco-1.25\r\n", "ssh", "Cisco", "1.25"),
        (b"220 mail.weak-clinic.test ESMTP Postfix (Debian/GNU)\r\n", "smtp", "Postfix", None),
        (b"220 mx.example ESMTP Exim 4.96 Sat, 22 Nov 2026 10:00:00 +0000\r\n", "smtp", "Exim", "4.96"),
        (b"220-mx.example ESMTP Sendmail 8.15.2/8.15.2; ready\r\n220 more\r\n", "smtp", "Sendmail", "8.15.2"),
        (b"220 EXCH01 Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready\r\n", "smtp",
         "Microsoft ESMTP", "10.0.17763.1"),
        (b"220 (vsFTPd 3.0.3)\r\n", "ftp", "vsftpd", "3.0.3"),
        (b"220 ProFTPD 1.3.8 Server (Debian) [::ffff:198.18.0.10]\r\n", "ftp", "ProFTPD", "1.3.8"),
        (b"220 Microsoft FTP Service\r\n", "ftp", "Microsoft FTP", None),
        (b"+OK Dovecot (Debian) ready.\r\n", "pop3", "Dovecot", None),
        (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE] Dovecot (Debian) ready.\r\n",
         "imap", "Dovecot", None),
        (b"RFB 003.008\n", "vnc", None, "3.8"),
        (b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "telnet", None, None),
        (b"\x4a\x00\x00\x00\x0a8.0.36-0ubuntu0.22.04.1\x00\x0b\x00\x00\x00abcdefgh\x00", "mysql", "MySQL",
         "8.0.36"),
        (b"\x56\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00\x08\x00\x00\x00", "mysql", "MariaDB",
         "10.11.6"),
    ],
)
def test_greetings(greeting: bytes, service: str, product: str | None, version: str | None) -> None:
    ident = classify_greeting(greeting)
    assert ident is not None
    assert (ident.service, ident.product, ident.version) == (service, product, version)


def test_ambiguous_220_uses_the_port_hint() -> None:
    assert classify_greeting(b"220 ready\r\n") is None
    ident = classify_greeting(b"220 ready\r\n", "submission")
    assert ident is not None and ident.service == "submission"
    ident = classify_greeting(b"220 gw ESMTP\r\n", "submission")
    assert ident is not None and ident.service == "submission"


def test_unknown_or_hostile_greetings_name_nothing() -> None:
    assert classify_greeting(b"") is None
    assert classify_greeting(b"\x00\x01\x02garbage" * 100) is None
    assert classify_greeting(b"hello there\r\n") is None


def test_clean_banner_strips_controls_and_caps_length() -> None:
    hostile = b"SSH-2.0-Evil\x1b[31m\x07\x00\r\n\xe2\x80\xaeRTL\xe2\x80\xac" + b"\x01junk" * 2000
    text = clean_banner(hostile)
    assert len(text) <= BANNER_MAX
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)
    assert "\u202e" not in text and "\u202c" not in text  # bidi overrides (Trojan Source)
    assert text.startswith("SSH-2.0-Evil[31m RTL")


def test_http_response_parsing() -> None:
    raw = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLocation: https://x/\r\n\r\n"
    assert parse_http_response(raw) == (True, "nginx", "1.22.1")
    assert parse_http_response(b"HTTP/1.0 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n") == (
        True, "Microsoft-IIS", "10.0")
    assert parse_http_response(b"HTTP/1.1 200 OK\r\n\r\n") == (True, None, None)
    assert parse_http_response(b"SSH-2.0-x\r\n")[0] is False


# ------------------------------------------------------------------ real listeners (127.0.0.x)

Handler = Callable[[socket.socket], None]


@contextmanager
def server(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve ``handler`` on ADDR:<ephemeral>; each connection in its own thread."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((ADDR, 0))
    lsock.listen(16)
    lsock.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        try:
            conn.settimeout(3)
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            handler(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        lsock.close()


def greeter(data: bytes, linger: float = 1.5) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.sendall(data)
        stop = threading.Event()
        stop.wait(linger)
    return handle


def http_handler(conn: socket.socket) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(1024)
        if not chunk:
            return
        request += chunk
    conn.sendall(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n")


def silent(conn: socket.socket) -> None:
    threading.Event().wait(2.5)


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gapscan-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


def run_identify(port: int) -> Service:
    with enforce(build_scope([ADDR])):
        return asyncio.run(asyncio.wait_for(identify(ADDR, port, timeouts=FAST, retries=1), 15))


def test_ssh_on_a_non_standard_port_is_ssh() -> None:
    with server(greeter(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")) as port:
        service = run_identify(port)
    assert (service.service, service.product, service.version) == ("ssh", "OpenSSH", "9.2p1")
    assert service.identified_by == "banner"
    assert service.banner == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"


def test_multiline_smtp_greeting_is_read_to_its_last_line() -> None:
    with server(greeter(b"220-mail.lab ESMTP Postfix\r\n220 mail.lab ready\r\n")) as port:
        service = run_identify(port)
    assert (service.service, service.product) == ("smtp", "Postfix")
    assert service.banner == "220-mail.lab ESMTP Postfix 220 mail.lab ready"


def test_hostile_banner_is_capped_and_cleaned() -> None:
    junk = b"\x1b[2J\x1b]0;pwned\x07" + bytes(range(256)) * 40  # ~10 kB, every control byte
    with server(greeter(junk)) as port:
        service = run_identify(port)
    assert service.service is None  # names nothing: no invented protocol
    assert service.banner is not None and len(service.banner) <= BANNER_MAX
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in service.banner)


def test_silent_listener_is_left_unnamed_without_hanging() -> None:
    with server(silent) as port:
        service = run_identify(port)
    assert service.service is None and service.banner is None


def test_plain_http_on_a_non_standard_port() -> None:
    with server(http_handler) as port:
        service = run_identify(port)
    assert (service.service, service.product, service.version) == ("http", "nginx", "1.22.1")


def test_tls_http_on_a_non_standard_port(tls_context: ssl.SSLContext) -> None:
    with server(http_handler, tls=tls_context) as port:
        service = run_identify(port)
    assert (service.service, service.product, service.version) == ("https", "nginx", "1.22.1")


def test_tls_wrapped_greeting_gets_the_tls_name(tls_context: ssl.SSLContext) -> None:
    with server(greeter(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"), tls=tls_context) as port:
        service = run_identify(port)
    assert (service.service, service.product) == ("imaps", "Dovecot")


def test_closed_port_keeps_the_port_map_name() -> None:
    with socket.socket() as sock:
        sock.bind((ADDR, 0))
        port = sock.getsockname()[1]
    service = run_identify(port)
    assert service.port == port and service.service is None


def test_identify_all_under_limits() -> None:
    pop3, ftp = greeter(b"+OK Dovecot ready.\r\n"), greeter(b"220 (vsFTPd 3.0.5)\r\n")
    with server(pop3) as p1, server(ftp) as p2, enforce(build_scope([ADDR])):
        result = asyncio.run(identify_all({ADDR: [p2, p1]}, global_limit=2, per_host=1,
                                          timeouts=FAST, retries=0))
    names = [(s.port, s.service, s.product) for s in result[ADDR]]
    assert names == sorted([(p1, "pop3", "Dovecot"), (p2, "ftp", "vsftpd")])


def test_identify_refuses_out_of_scope() -> None:
    with server(greeter(b"SSH-2.0-x\r\n")) as port, enforce(build_scope(["127.0.0.2"])), \
            pytest.raises(OutOfScopeError):
        asyncio.run(identify(ADDR, port, timeouts=FAST))


# ------------------------------------------------------- identification by what a port speaks


def responder(answer: Callable[[bytes], bytes | None], greeting: bytes = b"") -> Handler:
    """Greet (optionally), then answer whatever the client sends with ``answer(request)``."""
    def handle(conn: socket.socket) -> None:
        if greeting:
            conn.sendall(greeting)
        data = b""
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            data += chunk
            reply = answer(data)
            if reply is not None:
                conn.sendall(reply)
                data = b""
    return handle


def identify_as(port: int, hint_port: int) -> Service:
    """identify() on ``port`` as if it were ``hint_port`` (the port map is keyed by number)."""
    from scanner.discovery import identify as ident_module

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ident_module, "PORT_SERVICES", {**ident_module.PORT_SERVICES,
                                                   port: ident_module.PORT_SERVICES[hint_port]})
        return run_identify(port)


def test_bare_220_is_asked_whether_it_is_ftp_or_smtp() -> None:
    def ftp(data: bytes) -> bytes | None:
        if b"FEAT\r\n" in data:
            return b"211-Features:\r\n PASV\r\n211 End\r\n"
        return b"500 Unknown command.\r\n" if data.endswith(b"\n") else None

    def smtp(data: bytes) -> bytes | None:
        if b"EHLO" in data and data.endswith(b"\n"):
            return b"250-gw\r\n250 PIPELINING\r\n"
        return b"502 5.5.2 Error: command not recognized\r\n" if data.endswith(b"\n") else None

    with server(responder(ftp, b"220 Clinic file transfer\r\n")) as port:
        service = run_identify(port)
    assert (service.service, service.banner) == ("ftp", "220 Clinic file transfer")
    with server(responder(smtp, b"220 gateway ready\r\n")) as port:
        assert run_identify(port).service == "smtp"


def test_an_ftp_server_on_the_smtp_port_is_ftp() -> None:
    with server(greeter(b"220 (vsFTPd 3.0.3)\r\n")) as port:
        service = identify_as(port, 25)
    assert (service.service, service.product) == ("ftp", "vsftpd")


def test_plain_http_on_the_https_port_is_http() -> None:
    """The port says https; the server answers the ClientHello with an HTTP error page."""
    def plain(data: bytes) -> bytes | None:
        if data.startswith(b"HEAD "):
            return b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n" if b"\r\n\r\n" in data else None
        return b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nConnection: close\r\n\r\n"

    with server(responder(plain)) as port:
        service = identify_as(port, 443)
    assert (service.service, service.product, service.identified_by) == ("http", "nginx", "banner")


def test_ssh_on_the_smb_port_is_ssh() -> None:
    """An SMB negotiate is sent at once; the SSH banner that comes back names the port."""
    with server(greeter(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")) as port:
        service = identify_as(port, 445)
    assert (service.service, service.product) == ("ssh", "OpenSSH")


def test_smb_answer_confirms_smb() -> None:
    from scanner.discovery.hello_probes import is_smb_answer, smb_negotiate

    request = smb_negotiate()
    assert request[:1] == b"\x00" and request[4:8] == b"\xffSMB" and b"SMB 2.???" in request
    assert int.from_bytes(request[1:4], "big") == len(request) - 4
    reply = b"\x00\x00\x00\x40\xfeSMB" + b"\x00" * 60  # an SMB2 NEGOTIATE response header

    with server(responder(lambda data: reply if len(data) >= len(request) else None)) as port:
        service = identify_as(port, 445)
    assert (service.service, service.identified_by) == ("smb", "probe")
    assert is_smb_answer(reply) and not is_smb_answer(b"HTTP/1.1 400 Bad Request\r\n")


def test_a_silent_smb_port_keeps_its_port_map_name() -> None:
    with server(silent) as port:
        service = identify_as(port, 445)
    assert (service.service, service.identified_by) == ("smb", "port-map")


@pytest.mark.parametrize(("hint_port", "reply", "name"), [
    (3389, b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00", "rdp"),
    (5432, b"N", "postgresql"),
    (139, b"\x82\x00\x00\x00", "netbios-ssn"),
])
def test_client_first_protocols_are_confirmed_by_their_answer(hint_port: int, reply: bytes, name: str) -> None:
    with server(responder(lambda data: reply)) as port:
        service = identify_as(port, hint_port)
    assert (service.service, service.identified_by) == (name, "probe")


def test_rdp_request_is_a_tpkt_x224_connection_request() -> None:
    from scanner.discovery.hello_probes import rdp_connection_request

    request = rdp_connection_request()
    assert request[:2] == b"\x03\x00" and int.from_bytes(request[2:4], "big") == len(request) == 19
    assert request[5] == 0xE0  # X.224 CR TPDU


def test_tls_alert_means_tls(tls_context: ssl.SSLContext) -> None:
    """A server that refuses the handshake with an alert still speaks TLS: the TLS checks judge it."""
    def alert(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # fatal handshake_failure (RFC 8446 §6)
    with server(alert) as port:
        service = run_identify(port)
    assert (service.service, service.identified_by) == ("tls", "tls-handshake")


def test_greeting_part_keeps_the_greeting_only() -> None:
    from scanner.discovery.banners import greeting_part

    assert greeting_part(b"220 ready\r\n530 Please login\r\n") == b"220 ready\r"
    assert greeting_part(b"220-one\r\n220-two\r\n220 three\r\n500 no\r\n") == b"220-one\r\n220-two\r\n220 three\r"
    assert greeting_part(b"SSH-2.0-x\r\nInvalid SSH identification string.\r\n") == b"SSH-2.0-x\r"
    assert greeting_part(b"\xff\xfd\x18") == b"\xff\xfd\x18"
