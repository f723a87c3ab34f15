"""Issue 15, item 2: no verdict without proof. Each test feeds a probe (against a loopback
server scripted like the hostile one) or a check (on hand-built facts) what proved nothing, and
asserts that no PASS and no FAIL comes out; the real protocol's answer keeps its verdict.

Every test here gave a PASS or a FAIL before the fix (the names say which).
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections.abc import Iterable
from typing import Any

import pytest

from checks.cleartext.http_login import CleartextHttpLogin
from checks.cleartext.http_probe import HttpFrontPage, HttpHop, HttpPageFacts, auth_schemes
from checks.cleartext.telnet import CleartextTelnet
from checks.cleartext.telnet_probe import TelnetGreeting, parse_greeting
from checks.cloudsync.listener import SyncListener
from checks.smb.probe import SmbNegotiateFacts
from checks.smb.signing import SmbSigningNotRequired
from checks.smb.wire import NegotiateReply
from checks.snmp.probe import SnmpDefaultCommunities
from checks.tls import hello
from scanner.check import Check, Probe, ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeRefused, ProtocolError
from scanner.models import ErrorReason, Finding, Target, Transport, Undetermined
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=1.0, probe=6.0))


def _outcomes(check: Check, probe: Probe[Any], target: Target) -> list[str]:
    """"pass"/"fail" per Finding, "error:<reason>" per Undetermined or probe error."""
    try:
        facts = probe.collect(target, CTX)
    except ProbeError as exc:
        return [f"error:{exc.reason}"]
    return _judged(check.evaluate(target, {type(probe): facts}))


def _judged(items: Iterable[Any]) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, Finding):
            out.append("pass" if item.passed else "fail")
        elif isinstance(item, Undetermined):
            out.append(f"error:{item.reason}")
        else:
            out.append("skipped")
    return out


def _sends(payload: bytes, then_wait: float = 1.5) -> Any:
    def handle(conn: socket.socket) -> None:
        conn.sendall(payload)
        time.sleep(then_wait)

    return handle


# ---------------------------------------------------------------- cleartext.telnet

NOT_TELNET = {
    "one byte '2'": b"2",
    "10 MB of 'A'": b"A" * (10 << 20),
    "random bytes": random.Random(15).randbytes(4096),
    "'line 0'": b"line 0\r\n",
    "0xFF inside a binary greeting": b"\x00\x01\xff\xfb\x01junk",
}


@pytest.mark.parametrize("name", list(NOT_TELNET))
def test_telnet_port_that_proves_nothing_is_not_a_fail(name: str) -> None:
    payload = NOT_TELNET[name]
    with tcp_server(_sends(payload)) as (_, port, _n):
        outcomes = _outcomes(CleartextTelnet(), TelnetGreeting(), Target(host="127.0.0.1", port=port,
                                                                          service="telnet"))
    assert outcomes == ["error:protocol"], (name, outcomes)
    facts = parse_greeting(payload[:4096])
    assert _judged(CleartextTelnet().judge(Target(host="127.0.0.1", port=23, service="telnet"), facts)) == \
        ["error:protocol"]


def test_telnet_negotiation_or_a_login_prompt_is_a_fail() -> None:
    inetutils = b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"
    assert parse_greeting(inetutils).negotiation
    assert parse_greeting(inetutils).options[:2] == ("DO 24", "DO 32")
    assert parse_greeting(b"\xff\xfa\x18\x01\xff\xf0\xff\xfb\x01").negotiation  # SB ... SE, WILL ECHO
    assert not parse_greeting(b"\xff\xfd\x18\xff\x07").negotiation  # IAC then no Telnet command
    for prompt in (b"\r\nRouter login: ", b"Username:", b"User Name :", b"\r\nPassword: "):
        assert parse_greeting(prompt).prompt, prompt
    with tcp_server(_sends(b"\r\nDebian GNU/Linux 12\r\nlab-printer login: ")) as (_, port, _n):
        outcomes = _outcomes(CleartextTelnet(), TelnetGreeting(), Target(host="127.0.0.1", port=port,
                                                                          service="telnet"))
    assert outcomes == ["fail"]


def test_telnet_byte_drip_ends_within_the_probe_deadline() -> None:
    def drip(conn: socket.socket) -> None:
        for _ in range(10):
            conn.sendall(b"x")
            time.sleep(2)

    started = time.monotonic()
    with tcp_server(drip) as (_, port, _n), pytest.raises(ProtocolError):
        TelnetGreeting().collect(Target(host="127.0.0.1", port=port, service="telnet"), CTX)
    print(f"telnet byte drip: probe ended after {time.monotonic() - started:.1f} s")


# ---------------------------------------------------------------- cleartext.http_login

def _http(response: bytes) -> Any:
    def handle(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(response)

    return handle


def _http_target(port: int) -> Target:
    return Target(host="127.0.0.1", port=port, service="http")


LOGIN_PAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
              b"<form method=post action=/login><input type=password name=pw></form>")


@pytest.mark.parametrize(("response", "expected"), [
    (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n", "fail"),
    (b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a, b\", nonce=\"x\"\r\n"
     b"Content-Length: 0\r\n\r\n", "error:permission"),
    (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden", "error:permission"),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", "error:protocol"),
    (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!", "error:protocol"),
    (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "error:protocol"),
    (b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/\r\nContent-Length: 0\r\n\r\n", "error:protocol"),
    (b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/\r\nContent-Length: 0\r\n\r\n", "error:protocol"),
])
def test_http_answers_that_are_not_a_page_are_their_own_outcome(response: bytes, expected: str) -> None:
    with tcp_server(_http(response)) as (_, port, _n):
        assert _outcomes(CleartextHttpLogin(), HttpFrontPage(), _http_target(port)) == [expected]


def test_http_same_host_redirect_to_another_port_is_fetched_on_that_port() -> None:
    with tcp_server(_http(LOGIN_PAGE)) as (_, login_port, served):
        redirect = (f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{login_port}/login\r\n"
                    "Content-Length: 0\r\n\r\n").encode()
        with tcp_server(_http(redirect)) as (_, port, _n):
            facts = HttpFrontPage().collect(_http_target(port), CTX)
        assert served[0] == 1
    assert [h.url for h in facts.chain] == [f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{login_port}/login"]
    (item,) = CleartextHttpLogin().judge(_http_target(port), facts)
    assert isinstance(item, Finding) and not item.passed and f":{login_port}/login" in item.detail


def test_http_facts_judged_on_the_page_given() -> None:
    target = _http_target(80)
    off = HttpPageFacts((HttpHop("http://127.0.0.1/", 301, "http://elsewhere.example/"),),
                        not_followed="redirect leaves the target for elsewhere.example")
    assert _judged(CleartextHttpLogin().judge(target, off)) == ["error:protocol"]
    https = HttpPageFacts((HttpHop("http://127.0.0.1/", 301, "https://127.0.0.1/"),))
    assert _judged(CleartextHttpLogin().judge(target, https)) == ["pass"]
    error_page_with_form = HttpPageFacts((HttpHop("http://127.0.0.1/", 500),), password_field=True)
    assert _judged(CleartextHttpLogin().judge(target, error_page_with_form)) == ["fail"]
    assert auth_schemes(['Basic realm="x"', 'Digest realm="a, b", nonce="y", NTLM']) == ("basic", "digest", "ntlm")
    assert auth_schemes(["Negotiate", "NTLM"]) == ("negotiate", "ntlm")


# ---------------------------------------------------------------- snmp.default_community

def test_snmp_icmp_port_unreachable_is_no_proof() -> None:
    probe_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe_socket.bind(("127.0.0.1", 0))
    port = probe_socket.getsockname()[1]
    probe_socket.close()  # nothing listens: the kernel answers ICMP port unreachable
    with pytest.raises(ProbeRefused, match="port unreachable"):
        SnmpDefaultCommunities().collect(Target(host="127.0.0.1", port=port, transport=Transport.UDP,
                                                service="snmp"), CTX)


# ---------------------------------------------------------------- smb.signing_not_required

def test_smb_signing_with_no_dialect_accepted_is_not_a_pass() -> None:
    refused = NegotiateReply(dialect=None, refusal="no common dialect")
    facts = SmbNegotiateFacts(smb2=refused, smb311=refused, smb1=refused)
    (item,) = SmbSigningNotRequired().judge(Target(host="127.0.0.1", port=445, service="smb"), facts)
    assert isinstance(item, Undetermined) and item.reason == ErrorReason.PROTOCOL
    accepted = NegotiateReply(dialect="3.0.2", security_mode=0x03, signing_enabled=True, signing_required=True)
    (item,) = SmbSigningNotRequired().judge(Target(host="127.0.0.1", port=445, service="smb"),
                                            SmbNegotiateFacts(smb2=accepted, smb311=refused, smb1=refused))
    assert isinstance(item, Finding) and item.passed


# ---------------------------------------------------------------- resets: TLS hello, Syncthing

def _reset(conn: socket.socket) -> None:
    conn.recv(5)  # part of the ClientHello, the rest unread
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST


def test_tls_reset_is_not_a_refusal() -> None:
    with tcp_server(_reset) as (host, port, _n), socket.create_connection((host, port), timeout=2) as sock, \
                pytest.raises(ProtocolError, match="reset"):
        hello.ask(sock, "TLSv1.0", hello.PRE13_SUITES, 2.0)
    # A close without a byte stays a refusal (how some servers refuse a version).
    with tcp_server(lambda conn: conn.recv(4096)) as (host, port, _n), \
            socket.create_connection((host, port), timeout=2) as sock:
        answer = hello.ask(sock, "TLSv1.0", hello.PRE13_SUITES, 2.0)
    assert not answer.accepted and "closed" in answer.refusal


def test_syncthing_port_that_resets_is_not_not_syncthing() -> None:
    with tcp_server(_reset) as (host, port, _n), pytest.raises(ProtocolError, match=r"reset|closed"):
        SyncListener().collect(Target(host=host, port=port, service="syncthing", transport=Transport.TCP), CTX)
