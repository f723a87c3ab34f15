"""ftp.anonymous_login: judged on hand-built facts, the probe against loopback FTP dialogues
(accepting, refusing, writable), and hostile servers that must end in a ProbeError in time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from checks.ftp.anonymous_login import FtpAnonymousLogin
from checks.ftp.probe import ANON_PASSWORD, FtpAnonymous, FtpAnonymousFacts
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeTimeout
from scanner.models import Finding, Severity, Target
from scanner.net.ftp import FtpReply
from tests.unit.helpers import tcp_server

TARGET = Target(host="198.18.0.10", port=21, service="ftp")
# Replies as the lab's vsftpd 3.0.3 sent them (files-weak: anonymous_enable=YES, no_anon_password=YES;
# files-good: anonymous_enable=NO).
GREETING = FtpReply(220, ("Clinic file transfer",))
ACCEPTED = FtpAnonymousFacts(
    greeting=GREETING,
    dialogue=(("USER anonymous", FtpReply(230, ("Login successful.",))),
              ("EPSV", FtpReply(229, ("Entering Extended Passive Mode (|||30032|)",))),
              ("LIST", FtpReply(150, ("Here comes the directory listing.",)))),
    logged_in=True, user="anonymous", listing_works=True, listing_entries=1, listing_note="1 line(s), 61 bytes",
)
REFUSED = FtpAnonymousFacts(
    greeting=GREETING,
    dialogue=(("USER anonymous", FtpReply(530, ("Login incorrect.",))),
              ("USER ftp", FtpReply(530, ("Login incorrect.",)))),
    logged_in=False,
)


def judge(facts: FtpAnonymousFacts) -> Finding:
    (finding,) = list(FtpAnonymousLogin().evaluate(TARGET, {FtpAnonymous: facts}))
    assert isinstance(finding, Finding) and finding.evidence[0].kind == "ftp-dialogue"
    return finding


def test_fail_when_anonymous_accepted_and_listing_works() -> None:
    finding = judge(ACCEPTED)
    assert not finding.passed and finding.severity is None
    assert "198.18.0.10:21: anonymous logon accepted as 'anonymous'" in finding.detail
    assert "listing works" in finding.detail and "upload not tested" in finding.detail
    assert finding.evidence[0].data["dialogue"][0]["code"] == 230


def test_fail_is_critical_when_upload_allowed() -> None:
    facts = FtpAnonymousFacts(greeting=GREETING, dialogue=ACCEPTED.dialogue, logged_in=True, user="ftp",
                              listing_works=False, listing_note="LIST refused: 550", upload_allowed=True,
                              upload_note="x stored and deleted")
    finding = judge(facts)
    assert not finding.passed and finding.severity is Severity.CRITICAL
    assert "upload ALLOWED" in finding.detail and "listing refused" in finding.detail


def test_pass_when_refused_quotes_the_replies() -> None:
    finding = judge(REFUSED)
    assert finding.passed
    assert "USER anonymous -> 530 Login incorrect." in finding.detail and "USER ftp -> 530" in finding.detail


# ---------------------------------------------------------------- loopback FTP server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1, read=1, probe=8))


def ftp_server(*, anonymous: bool, writable: bool = False, passive: str = "EPSV",
               log: list[str] | None = None) -> Callable[[socket.socket], None]:
    """A small FTP server: greeting, USER/PASS, EPSV/PASV + LIST, STOR/DELE, QUIT."""
    log = log if log is not None else []

    def handle(conn: socket.socket) -> None:
        fh = conn.makefile("rwb")
        data_listener: socket.socket | None = None

        def say(line: str) -> None:
            fh.write(line.encode() + b"\r\n")
            fh.flush()

        say("220-Welcome")
        say(" second line of the banner")
        say("220 ready")
        for raw in fh:
            cmd = raw.decode().strip()
            log.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "USER":
                say("331 Please specify the password." if anonymous else "530 Login incorrect.")
            elif verb == "PASS":
                say("230 Login successful." if anonymous else "530 Login incorrect.")
            elif verb in ("EPSV", "PASV") and verb != passive:
                say("500 Unknown command.")
            elif verb in ("EPSV", "PASV"):
                data_listener = socket.create_server(("127.0.0.1", 0))
                port = data_listener.getsockname()[1]
                if verb == "EPSV":
                    say(f"229 Entering Extended Passive Mode (|||{port}|)")
                else:  # the address in the reply is bogus on purpose: the client must ignore it
                    say(f"227 Entering Passive Mode (10,9,8,7,{port // 256},{port % 256}).")
            elif verb == "LIST" and data_listener is not None:
                say("150 Here comes the directory listing.")
                data, _ = data_listener.accept()
                data.sendall(b"-rw-r--r--    1 0  0  30 Nov 22 23:00 forms-index.txt\r\n")
                data.close()
                say("226 Directory send OK.")
            elif verb == "STOR" and data_listener is not None:
                if not writable:
                    say("550 Permission denied.")
                    continue
                say("150 Ok to send data.")
                data, _ = data_listener.accept()
                while data.recv(1024):
                    pass
                data.close()
                say("226 Transfer complete.")
            elif verb == "DELE":
                say("250 Delete operation successful.")
            elif verb == "QUIT":
                say("221 Goodbye.")
                return
            else:
                say("502 not here")

    return handle


def test_probe_on_an_anonymous_server_lists_but_does_not_upload_by_default() -> None:
    log: list[str] = []
    with tcp_server(ftp_server(anonymous=True, writable=True, log=log)) as (host, port, _):
        facts = FtpAnonymous().collect(Target(host=host, port=port), CTX)
    assert facts.greeting.lines == ("Welcome", " second line of the banner", "ready")
    assert facts.logged_in and facts.user == "anonymous"
    assert facts.listing_works and facts.listing_entries == 1
    assert facts.upload_allowed is None and not any(c.startswith("STOR") for c in log)
    assert f"PASS {ANON_PASSWORD}" in log, "the fixed placeholder address, nothing else"
    assert all(ANON_PASSWORD not in str(e) for e in facts.evidence().data["dialogue"]), "masked in evidence"


def test_probe_uses_pasv_with_the_control_address_and_uploads_only_when_intrusive() -> None:
    log: list[str] = []
    intrusive = ProbeContext(timeouts=CTX.timeouts, intrusive_allowed=True)
    with tcp_server(ftp_server(anonymous=True, writable=True, passive="PASV", log=log)) as (host, port, _):
        facts = FtpAnonymous().collect(Target(host=host, port=port), intrusive)
    assert facts.listing_works and facts.upload_allowed is True
    stored = next(c for c in log if c.startswith("STOR "))
    assert stored.startswith("STOR gapscan-write-test-") and f"DELE {stored[5:]}" in log
    assert "deleted" in facts.upload_note


def test_probe_reports_upload_refused() -> None:
    intrusive = ProbeContext(timeouts=CTX.timeouts, intrusive_allowed=True)
    with tcp_server(ftp_server(anonymous=True, writable=False)) as (host, port, _):
        facts = FtpAnonymous().collect(Target(host=host, port=port), intrusive)
    assert facts.upload_allowed is False and "550" in facts.upload_note


def test_probe_on_a_refusing_server_tries_anonymous_then_ftp() -> None:
    log: list[str] = []
    with tcp_server(ftp_server(anonymous=False, log=log)) as (host, port, _):
        facts = FtpAnonymous().collect(Target(host=host, port=port), CTX)
    assert not facts.logged_in and facts.listing_works is None
    assert log[:2] == ["USER anonymous", "USER ftp"]


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"\x16\x03\x01 hello, I am TLS\r\n")


def _silent(conn: socket.socket) -> None:
    time.sleep(3)


def _reset_after_user(conn: socket.socket) -> None:
    conn.sendall(b"220 hi\r\n")
    conn.recv(100)
    _reset(conn)


def _busy(conn: socket.socket) -> None:
    conn.sendall(b"220 hi\r\n")
    conn.recv(100)
    conn.sendall(b"421 Too many connections\r\n")
    time.sleep(0.5)


def _endless_multiline(conn: socket.socket) -> None:
    conn.sendall(b"220-hi\r\n" + b"more\r\n" * 500)
    time.sleep(0.5)


def _data_port_never_answers(conn: socket.socket) -> None:
    # 230 at once, then an EPSV port that nobody listens on
    conn.sendall(b"220 hi\r\n")
    conn.recv(100)
    conn.sendall(b"230 ok\r\n")
    conn.recv(100)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    conn.sendall(f"229 Entering Extended Passive Mode (|||{port}|)\r\n".encode())
    time.sleep(0.5)


@pytest.mark.parametrize("handler, reason", [
    (_reset, "protocol"), (_garbage, "protocol"), (_silent, "timeout"), (_reset_after_user, "protocol"),
    (_busy, "protocol"), (_endless_multiline, "protocol"), (_data_port_never_answers, "refused"),
])
def test_probe_hostile_servers_are_errors_not_verdicts(handler: Callable[[socket.socket], None], reason: str) -> None:
    started = time.monotonic()
    with tcp_server(handler) as (host, port, _), pytest.raises(ProbeError) as info:
        FtpAnonymous().collect(Target(host=host, port=port), CTX)
    assert info.value.reason.value == reason, info.value
    assert isinstance(info.value, ProbeTimeout if reason == "timeout" else ProbeError)
    assert time.monotonic() - started < CTX.timeouts.probe


def test_a_listing_that_never_ends_times_out() -> None:
    def handler(conn: socket.socket) -> None:
        fh = conn.makefile("rwb")
        fh.write(b"220 hi\r\n")
        fh.flush()
        listener = socket.create_server(("127.0.0.1", 0))
        for raw in fh:
            verb = raw.decode().split(" ")[0].strip().upper()
            if verb == "USER":
                fh.write(b"230 ok\r\n")
            elif verb == "EPSV":
                fh.write(f"229 (|||{listener.getsockname()[1]}|)\r\n".encode())
            elif verb == "LIST":
                fh.write(b"150 here\r\n")
                fh.flush()
                data, _ = listener.accept()
                stop = threading.Event()
                while not stop.wait(0.2):
                    data.sendall(b"x\r\n")
            fh.flush()

    started = time.monotonic()
    with tcp_server(handler) as (host, port, _), pytest.raises(ProbeTimeout):
        FtpAnonymous().collect(Target(host=host, port=port), CTX)
    assert time.monotonic() - started < CTX.timeouts.probe
