"""smtp.starttls_missing: judged on hand-built facts, and the probe on a loopback SMTP dialogue."""

import socket

import pytest

from checks.mail.smtp_probe import SmtpEhlo, SmtpEhloFacts
from checks.mail.starttls_missing import SmtpStarttlsMissing
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError
from scanner.models import Target
from tests.unit.helpers import smtp_handler, tcp_server

TARGET = Target(host="198.18.0.20", port=25, service="smtp")
# EHLO reply recorded from the lab's hardened Postfix 3.7 (smtpd_tls_security_level = may).
POSTFIX_TLS = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
               "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
POSTFIX_PLAIN = tuple(x for x in POSTFIX_TLS if x != "STARTTLS")


def _judge(facts: SmtpEhloFacts) -> tuple[bool, str]:
    (finding,) = list(SmtpStarttlsMissing().evaluate(TARGET, {SmtpEhlo: facts}))
    assert finding.evidence and finding.evidence[0].kind == "smtp-ehlo"
    return finding.passed, finding.detail  # type: ignore[union-attr]


def test_pass_when_starttls_offered() -> None:
    passed, detail = _judge(SmtpEhloFacts("mail ESMTP Postfix", 250, POSTFIX_TLS, True))
    assert passed and "offered" in detail


def test_fail_when_not_offered_names_what_was() -> None:
    passed, detail = _judge(SmtpEhloFacts("mail ESMTP Postfix", 250, POSTFIX_PLAIN, True))
    assert not passed and "not offered" in detail and "PIPELINING" in detail


def test_fail_when_helo_only() -> None:
    passed, detail = _judge(SmtpEhloFacts("old smtp", 502, (), False))
    assert not passed and "HELO" in detail


def test_starttls_keyword_case_insensitive() -> None:
    assert SmtpEhloFacts("b", 250, ("starttls",), True).starttls_offered


CTX = ProbeContext(timeouts=TimeoutConfig(connect=1, read=1, probe=5))


@pytest.mark.parametrize("offered", [True, False])
def test_probe_reads_a_real_dialogue(offered: bool) -> None:
    lines = ["PIPELINING", "AUTH PLAIN LOGIN"] + (["STARTTLS"] if offered else [])
    with tcp_server(smtp_handler(lines)) as (host, port, _):
        facts = SmtpEhlo().collect(Target(host=host, port=port), CTX)
    assert facts.starttls_offered is offered
    assert facts.auth_mechanisms == ("PLAIN", "LOGIN")
    assert facts.banner.startswith("mail.lab")


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"\x00\xffHELLO I AM NOT SMTP\r\n")


def _silent(conn: socket.socket) -> None:
    conn.recv(10)


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"220" + b"A" * 10000)


@pytest.mark.parametrize("handler, error", [(_garbage, ProtocolError), (_silent, ProbeTimeout),
                                            (_endless, ProtocolError)])
def test_probe_hostile_servers_are_errors_not_results(handler: object, error: type[ProbeError]) -> None:
    with tcp_server(handler) as (host, port, _), pytest.raises(error):  # type: ignore[arg-type]
        SmtpEhlo().collect(Target(host=host, port=port), CTX)


def test_probe_closed_port_is_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ProbeError) as info:
        SmtpEhlo().collect(Target(host="127.0.0.1", port=port), CTX)
    assert info.value.reason.value == "refused"
