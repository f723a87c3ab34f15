"""Mail probes against scripted servers on loopback: real dialogues (relay attempts, STARTTLS with
a real TLS handshake, IMAP CAPABILITY, POP3 CAPA) and hostile ones (garbage, silence, reset,
endless lines), which must end in a ProbeError within the timeouts, never a result."""

from __future__ import annotations

import datetime
import socket
import ssl
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from checks.mail.imap_probe import ImapCapability
from checks.mail.pop3_probe import Pop3Capa
from checks.mail.smtp_probe import SmtpEhlo
from checks.mail.smtp_relay_probe import RCPT_VARIANTS, SmtpRelay
from checks.mail.smtp_tls_probe import SmtpStarttls
from scanner.check import Probe, ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError
from scanner.models import Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1, read=1, probe=5))
Handler = Callable[[socket.socket], None]


def _lines(conn: socket.socket) -> tuple[Callable[[], str], Callable[[str], None]]:
    fh = conn.makefile("rb")

    def read() -> str:
        return fh.readline().decode(errors="replace").rstrip("\r\n")

    def send(text: str) -> None:
        conn.sendall(text.encode() + b"\r\n")

    return read, send


def smtp_server(rcpt_reply: str = "250 2.1.5 Ok", mail_reply: str = "250 2.1.0 Ok",
                commands: list[str] | None = None) -> Handler:
    """An SMTP server that answers MAIL/RCPT as told and records every command it receives."""

    def handle(conn: socket.socket) -> None:
        read, send = _lines(conn)
        send("220 mx.test ESMTP")
        while True:
            line = read()
            if not line:
                return
            if commands is not None:
                commands.append(line)
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb == "EHLO":
                send("250-mx.test")
                send("250 PIPELINING")
            elif verb == "MAIL":
                send(mail_reply)
            elif verb == "RCPT":
                send(rcpt_reply)
            elif verb == "RSET":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")

    return handle


# --------------------------------------------------------------------- relay


def test_relay_probe_tries_every_form_and_never_sends_data() -> None:
    commands: list[str] = []
    with tcp_server(smtp_server(commands=commands)) as (host, port, _):
        facts = SmtpRelay().collect(Target(host=host, port=port), CTX)
    assert len(facts.attempts) == len(RCPT_VARIANTS) == len(facts.accepted)
    assert not any(c.upper().startswith(("DATA", "BDAT")) for c in commands), commands
    assert commands[0].startswith("EHLO [127.0.0.1]") and commands[-1] == "QUIT"
    assert [c for c in commands if c.startswith("RCPT")][1] == "RCPT TO:<relay-probe%example.org@[127.0.0.1]>"
    assert commands.count("RSET") == len(RCPT_VARIANTS)


def test_relay_probe_records_refusals() -> None:
    with tcp_server(smtp_server(rcpt_reply="554 5.7.1 Relay access denied")) as (host, port, _):
        facts = SmtpRelay().collect(Target(host=host, port=port), CTX)
    assert not facts.accepted and all(a.rcpt_reply.startswith("554") for a in facts.attempts)
    evidence = facts.evidence()
    assert evidence.data["attempts"][0]["rcpt_reply"] == "554 5.7.1 Relay access denied"


def test_relay_probe_skips_rcpt_when_mail_from_is_refused() -> None:
    commands: list[str] = []
    with tcp_server(smtp_server(mail_reply="550 5.7.1 go away", commands=commands)) as (host, port, _):
        facts = SmtpRelay().collect(Target(host=host, port=port), CTX)
    assert not any(c.startswith("RCPT") for c in commands)
    assert all(a.rcpt_reply == "" and not a.accepted for a in facts.attempts)


# --------------------------------------------------------------------- STARTTLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem"


def starttls_server(certificate: tuple[Path, Path], *, legacy: bool = False, reply: str = "220 2.0.0 Ready",
                    after_reply: bytes = b"") -> Handler:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    if legacy:  # a server stuck on TLS 1.1 with static-RSA suites (what the lab's mail-mixed runs)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("AES256-SHA:@SECLEVEL=0")

    def handle(conn: socket.socket) -> None:
        read, send = _lines(conn)
        send("220 mx.test ESMTP")
        read()  # EHLO
        send("250-mx.test")
        send("250 STARTTLS")
        read()  # STARTTLS
        conn.sendall(reply.encode() + b"\r\n" + after_reply)
        if not reply.startswith("220"):
            return
        tls = context.wrap_socket(conn, server_side=True)
        tls.settimeout(2)
        tls.recv(100)  # QUIT
        tls.sendall(b"221 bye\r\n")

    return handle


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
@pytest.mark.parametrize("legacy, version", [(False, "TLSv1.3"), (True, "TLSv1.1")])
def test_starttls_reports_the_negotiated_version(certificate: tuple[Path, Path], legacy: bool, version: str) -> None:
    with tcp_server(starttls_server(certificate, legacy=legacy)) as (host, port, _):
        facts = SmtpStarttls().collect(Target(host=host, port=port), CTX)
    assert facts.starttls_offered and facts.tls_version == version and facts.cipher
    assert facts.negotiated_legacy is legacy and "TLSv1.3" in facts.offered
    assert facts.evidence().data["tls_version"] == version


def test_starttls_refused_is_a_fact(certificate: tuple[Path, Path]) -> None:
    with tcp_server(starttls_server(certificate, reply="454 4.7.0 TLS not available")) as (host, port, _):
        facts = SmtpStarttls().collect(Target(host=host, port=port), CTX)
    assert facts.starttls_offered and facts.tls_version is None and facts.starttls_reply.startswith("454")


def test_starttls_not_offered() -> None:
    with tcp_server(smtp_server()) as (host, port, _):
        facts = SmtpStarttls().collect(Target(host=host, port=port), CTX)
    assert not facts.starttls_offered and facts.tls_version is None


def test_data_injected_before_the_handshake_is_refused(certificate: tuple[Path, Path]) -> None:
    handler = starttls_server(certificate, after_reply=b"250 injected\r\n")
    with tcp_server(handler) as (host, port, _), pytest.raises(ProtocolError, match="before the TLS handshake"):
        SmtpStarttls().collect(Target(host=host, port=port), CTX)


def test_a_non_tls_answer_to_the_handshake_is_an_error(certificate: tuple[Path, Path]) -> None:
    def handle(conn: socket.socket) -> None:
        read, send = _lines(conn)
        send("220 mx.test ESMTP")
        read()
        send("250-mx.test")
        send("250 STARTTLS")
        read()
        send("220 go ahead")
        read()  # the ClientHello arrives; answer with plaintext garbage
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    with tcp_server(handle) as (host, port, _), pytest.raises(ProbeError, match="TLS"):
        SmtpStarttls().collect(Target(host=host, port=port), CTX)


# --------------------------------------------------------------------- IMAP and POP3


def imap_server(greeting: str, caps: str) -> Handler:
    def handle(conn: socket.socket) -> None:
        read, send = _lines(conn)
        send(greeting)
        while line := read():
            tag, _, command = line.partition(" ")
            if command.upper() == "CAPABILITY":
                if caps:
                    send(f"* CAPABILITY {caps}")
                send(f"{tag} OK done" if caps else f"{tag} BAD unknown")
            elif command.upper() == "LOGOUT":
                send("* BYE")
                send(f"{tag} OK")
                return

    return handle


def test_imap_capabilities() -> None:
    caps = "IMAP4rev1 STARTTLS LOGINDISABLED"
    with tcp_server(imap_server("* OK ready", caps)) as (host, port, _):
        facts = ImapCapability().collect(Target(host=host, port=port), CTX)
    assert facts.starttls and facts.login_disabled and facts.auth_mechanisms == () and not facts.preauth


def test_imap_capabilities_from_the_greeting_when_the_command_fails() -> None:
    greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"
    with tcp_server(imap_server(greeting, "")) as (host, port, _):
        facts = ImapCapability().collect(Target(host=host, port=port), CTX)
    assert facts.auth_mechanisms == ("PLAIN",) and not facts.login_disabled


def test_imap_preauth_is_recorded() -> None:
    with tcp_server(imap_server("* PREAUTH logged in", "IMAP4rev1")) as (host, port, _):
        assert ImapCapability().collect(Target(host=host, port=port), CTX).preauth


def test_imap_bye_greeting_is_an_error() -> None:
    with tcp_server(imap_server("* BYE too many connections", "")) as (host, port, _), \
            pytest.raises(ProtocolError, match="refused"):
        ImapCapability().collect(Target(host=host, port=port), CTX)


def pop3_server(capa: list[str] | None) -> Handler:
    def handle(conn: socket.socket) -> None:
        read, send = _lines(conn)
        send("+OK POP3 ready <1.2@mx.test>")
        while line := read():
            if line.upper() == "CAPA":
                if capa is None:
                    send("-ERR unknown command")
                else:
                    send("+OK")
                    for item in capa:
                        send(item)
                    send(".")
            elif line.upper() == "QUIT":
                send("+OK bye")
                return

    return handle


def test_pop3_capa() -> None:
    with tcp_server(pop3_server(["TOP", "STLS", "SASL PLAIN LOGIN", "USER"])) as (host, port, _):
        facts = Pop3Capa().collect(Target(host=host, port=port), CTX)
    assert facts.capa_supported and facts.stls and facts.user_command and facts.sasl_mechanisms == ("PLAIN", "LOGIN")


def test_pop3_without_capa() -> None:
    with tcp_server(pop3_server(None)) as (host, port, _):
        facts = Pop3Capa().collect(Target(host=host, port=port), CTX)
    assert not facts.capa_supported and not facts.stls


# --------------------------------------------------------------------- hostile servers


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"\x00\xff\x1b[31mHELLO I AM NOT A MAIL SERVER\r\n")
    conn.recv(100)


def _silent(conn: socket.socket) -> None:
    conn.recv(100)


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"+OK * OK 220 " + b"A" * 20000)
    conn.recv(100)


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST


PROBES: list[type[Probe[object]]] = [SmtpEhlo, SmtpRelay, SmtpStarttls, ImapCapability, Pop3Capa]  # type: ignore[list-item]
GREETINGS = {ImapCapability: b"* OK ready\r\n", Pop3Capa: b"+OK ready\r\n"}


def test_a_server_that_greets_then_hangs_times_out() -> None:
    for probe in PROBES:
        greeting = GREETINGS.get(probe, b"220 mx.test ESMTP\r\n")

        def hang(conn: socket.socket, greeting: bytes = greeting) -> None:
            conn.sendall(greeting)
            conn.recv(100)
            time.sleep(2.5)

        started = time.monotonic()
        with tcp_server(hang) as (host, port, _), pytest.raises(ProbeTimeout):
            probe().collect(Target(host=host, port=port), CTX)
        assert time.monotonic() - started < 2.5, probe.name


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
@pytest.mark.parametrize("handler, error", [(_garbage, ProtocolError), (_silent, ProbeTimeout),
                                            (_endless, ProtocolError), (_reset, ProbeError)],
                         ids=["garbage", "silent", "endless-line", "reset"])
def test_hostile_servers_are_errors_within_the_timeout(probe: type[Probe[object]], handler: Handler,
                                                       error: type[ProbeError]) -> None:
    started = time.monotonic()
    with tcp_server(handler) as (host, port, _), pytest.raises(error):
        probe().collect(Target(host=host, port=port), CTX)
    assert time.monotonic() - started < 3.5  # read timeout 1 s (x2 at most for a greeting + command)
