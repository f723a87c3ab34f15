"""cleartext.ftp, cleartext.http_login and cleartext.telnet: probes against loopback servers,
checks on their facts."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from checks.cleartext.ftp import CleartextFtp
from checks.cleartext.ftp_tls_probe import FtpAuthTls
from checks.cleartext.http_login import CleartextHttpLogin
from checks.cleartext.http_probe import HttpFrontPage
from checks.cleartext.telnet import CleartextTelnet
from checks.cleartext.telnet_probe import TelnetGreeting
from scanner.check import Check, Probe, ProbeContext, TimeoutConfig
from scanner.errors import ProtocolError
from scanner.models import Finding, Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=1.0, probe=5.0))


def _run(check: Check, probe: Probe[Any], port: int, service: str) -> Finding:
    target = Target(host="127.0.0.1", port=port, service=service)
    facts = probe.collect(target, CTX)
    (item,) = list(check.evaluate(target, {type(probe): facts}))
    assert isinstance(item, Finding)
    return item


def _ftp(auth_reply: bytes, feat: bytes) -> Any:
    def handle(conn: socket.socket) -> None:
        fh = conn.makefile("rwb")
        fh.write(b"220 (vsFTPd 3.0.3)\r\n")
        fh.flush()
        for raw in fh:
            cmd = raw.strip().upper()
            if cmd == b"FEAT":
                fh.write(feat)
            elif cmd == b"AUTH TLS":
                fh.write(auth_reply)
            else:
                fh.write(b"221 Goodbye.\r\n")
            fh.flush()

    return handle


def test_ftp_without_tls_fails() -> None:
    # Replies as vsftpd 3.0.3 without ssl_enable (the lab's files-weak) gives them.
    feat = b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n"
    with tcp_server(_ftp(b"530 Please login with USER and PASS.\r\n", feat)) as (_, port, _n):
        item = _run(CleartextFtp(), FtpAuthTls(), port, "ftp")
    assert not item.passed and "530" in item.detail and "does not list AUTH TLS" in item.detail
    assert item.evidence[0].data["auth_tls_code"] == 530


def test_ftp_with_auth_tls_passes() -> None:
    feat = b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n"
    with tcp_server(_ftp(b"234 Proceed with negotiation.\r\n", feat)) as (_, port, _n):
        item = _run(CleartextFtp(), FtpAuthTls(), port, "ftp")
    assert item.passed and "234" in item.detail


def test_ftp_busy_reply_is_an_error_not_a_verdict() -> None:
    with tcp_server(_ftp(b"421 Too many users.\r\n", b"211 End\r\n")) as (_, port, _n), \
            pytest.raises(ProtocolError, match="421"):
        FtpAuthTls().collect(Target(host="127.0.0.1", port=port, service="ftp"), CTX)


def _http(response: bytes) -> Any:
    def handle(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(response)

    return handle


LOGIN = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><form method=post "
         b"action=/login><input name=user><input type='password' name=pw></form></html>")


def test_http_login_form_fails() -> None:
    with tcp_server(_http(LOGIN)) as (_, port, _n):
        item = _run(CleartextHttpLogin(), HttpFrontPage(), port, "http")
    assert not item.passed and "password field" in item.detail
    assert item.evidence[0].data["password_field"] is True


def test_form_posting_to_http_fails_even_without_password_field() -> None:
    page = (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<form action=\"http://portal.example/login\">"
            b"<input name=pin></form>")
    with tcp_server(_http(page)) as (_, port, _n):
        item = _run(CleartextHttpLogin(), HttpFrontPage(), port, "http")
    assert not item.passed and "http://portal.example/login" in item.detail


def test_redirect_to_https_passes_and_plain_page_passes() -> None:
    redirect = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://198.18.0.31/\r\nContent-Length: 0\r\n\r\n"
    with tcp_server(_http(redirect)) as (_, port, _n):
        item = _run(CleartextHttpLogin(), HttpFrontPage(), port, "http")
    assert item.passed and "redirects to https://198.18.0.31/" in item.detail
    plain = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>hello</html>"
    with tcp_server(_http(plain)) as (_, port, _n):
        item = _run(CleartextHttpLogin(), HttpFrontPage(), port, "http")
    assert item.passed and "no login form" in item.detail


def test_http_garbage_is_a_protocol_error() -> None:
    with tcp_server(_http(b"\x16\x03\x01garbage\r\n\r\n")) as (_, port, _n), pytest.raises(ProtocolError):
        HttpFrontPage().collect(Target(host="127.0.0.1", port=port, service="http"), CTX)


def test_redirect_loop_is_bounded() -> None:
    loop = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with tcp_server(_http(loop)) as (_, port, n), pytest.raises(ProtocolError, match="redirects"):
        HttpFrontPage().collect(Target(host="127.0.0.1", port=port, service="http"), CTX)
    assert n[0] == 4


def test_telnet_negotiation_fails() -> None:
    def handle(conn: socket.socket) -> None:
        # inetutils telnetd's opening burst: IAC DO TERMINAL-TYPE, IAC DO TSPEED, ...
        conn.sendall(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
        time.sleep(1.5)

    with tcp_server(handle) as (_, port, _n):
        item = _run(CleartextTelnet(), TelnetGreeting(), port, "telnet")
    assert not item.passed and "option negotiation" in item.detail
    assert item.evidence[0].data["iac_negotiation"] is True


def test_silent_telnet_port_is_an_error() -> None:
    def handle(conn: socket.socket) -> None:
        time.sleep(1.5)

    started = time.monotonic()
    with tcp_server(handle) as (_, port, _n), pytest.raises(ProtocolError, match="nothing"):
        TelnetGreeting().collect(Target(host="127.0.0.1", port=port, service="telnet"), CTX)
    assert time.monotonic() - started < 2
