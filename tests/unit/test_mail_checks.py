"""Mail checks judged on hand-built facts (recorded shapes of the lab's Postfix/Dovecot replies)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.dns.probe import DomainDns
from checks.mail.cleartext_auth import SmtpCleartextAuth
from checks.mail.consumer_provider import MailConsumerProvider, mx_hosts
from checks.mail.imap_cleartext_login import ImapCleartextLogin
from checks.mail.imap_probe import ImapCapability, ImapFacts
from checks.mail.open_relay import SmtpOpenRelay
from checks.mail.pop3_cleartext_login import Pop3CleartextLogin
from checks.mail.pop3_probe import Pop3Capa, Pop3Facts
from checks.mail.providers import provider_of_address_domain, provider_of_mx
from checks.mail.sasl import cleartext_mechanisms
from checks.mail.smtp_probe import SmtpEhlo, SmtpEhloFacts
from checks.mail.smtp_relay_probe import RelayAttempt, SmtpRelay, SmtpRelayFacts
from checks.mail.smtp_tls_probe import SmtpStarttls, SmtpTlsFacts
from checks.mail.tls_weak import SmtpTlsWeak
from scanner.check import Check
from scanner.models import Finding, Skip, Target
from tests.unit.test_dns_checks import apex, collect  # noqa: F401 - the fixture is used by name
from tests.unit.test_dns_checks import judge as judge_domain

SMTP = Target(host="198.18.0.22", port=25, service="smtp")


def judge(check: type[Check], probe: type[Any], facts: Any, target: Target = SMTP) -> Finding | Skip:
    (item,) = list(check().evaluate(target, {probe: facts}))
    return item


def finding(check: type[Check], probe: type[Any], facts: Any) -> Finding:
    item = judge(check, probe, facts)
    assert isinstance(item, Finding) and item.evidence, item
    return item


# --------------------------------------------------------------------- smtp.tls_weak

OFFERED = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("version, ok", [("TLSv1.3", True), ("TLSv1.2", True), ("TLSv1.1", False), ("TLSv1", False),
                                         ("SSLv3", False)])
def test_tls_weak_by_negotiated_version(version: str, ok: bool) -> None:
    facts = SmtpTlsFacts(True, "220 2.0.0 Ready to start TLS", version, "AES256-SHA", OFFERED, "OpenSSL 3.0")
    result = finding(SmtpTlsWeak, SmtpStarttls, facts)
    assert result.passed is ok and version in result.detail and "TLSv1 to TLSv1.3" in result.detail


def test_tls_weak_starttls_refused_fails_and_not_offered_skips() -> None:
    refused = SmtpTlsFacts(True, "454 4.7.0 TLS not available", None, None, OFFERED, "OpenSSL 3.0")
    result = finding(SmtpTlsWeak, SmtpStarttls, refused)
    assert not result.passed and "454" in result.detail
    absent = SmtpTlsFacts(False, "", None, None, OFFERED, "OpenSSL 3.0")
    assert isinstance(judge(SmtpTlsWeak, SmtpStarttls, absent), Skip)


# --------------------------------------------------------------------- smtp.cleartext_auth

# EHLO lines recorded from the lab's Postfix 3.7 (mail-weak: AUTH with broken_sasl_auth_clients).
WEAK_EHLO = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN",
             "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
GOOD_EHLO = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
             "SMTPUTF8", "CHUNKING")


@pytest.mark.parametrize("lines, ok, words", [
    (WEAK_EHLO, False, "AUTH PLAIN LOGIN offered before TLS (no STARTTLS at all)"),
    (("STARTTLS", "AUTH PLAIN LOGIN"), False, "STARTTLS is offered but not required"),
    (GOOD_EHLO, True, "no AUTH offered"),
    (("STARTTLS", "AUTH CRAM-MD5 SCRAM-SHA-256"), True, "challenge-response"),
    (("AUTH CRAM-MD5 XOAUTH2",), False, "XOAUTH2"),
])
def test_cleartext_auth(lines: tuple[str, ...], ok: bool, words: str) -> None:
    result = finding(SmtpCleartextAuth, SmtpEhlo, SmtpEhloFacts("mx ESMTP", 250, lines, True))
    assert result.passed is ok and words in result.detail, result.detail


def test_unknown_mechanisms_count_as_cleartext() -> None:
    assert cleartext_mechanisms(["cram-md5", "PLAIN", "NEW-THING"]) == ["PLAIN", "NEW-THING"]


# --------------------------------------------------------------------- smtp.open_relay


def _relay(*rcpt_replies: str) -> SmtpRelayFacts:
    return SmtpRelayFacts("mx ESMTP", tuple(RelayAttempt(f"v{i}", f"<r{i}@example.org>", "250 2.1.0 Ok", reply)
                                           for i, reply in enumerate(rcpt_replies)))


def test_open_relay_fails_on_any_accepted_recipient_with_every_reply_in_evidence() -> None:
    facts = _relay("554 5.7.1 Relay access denied", "250 2.1.5 Ok", "554 5.7.1 Relay access denied")
    result = finding(SmtpOpenRelay, SmtpRelay, facts)
    assert not result.passed and "accepted 1 of 3" in result.detail and "v1" in result.detail
    assert [a["rcpt_reply"][:3] for a in result.evidence[0].data["attempts"]] == ["554", "250", "554"]


def test_open_relay_passes_when_everything_is_refused() -> None:
    result = finding(SmtpOpenRelay, SmtpRelay, _relay("554 5.7.1 no", "550 5.1.1 no", "501 5.1.3 bad address"))
    assert result.passed and "refused all 3" in result.detail and "501, 550, 554" in result.detail


def test_open_relay_never_passes_without_an_attempt() -> None:
    assert not finding(SmtpOpenRelay, SmtpRelay, SmtpRelayFacts("mx", ())).passed
    mail_refused = SmtpRelayFacts("mx", (RelayAttempt("plain", "<r@example.org>", "550 5.7.1 no", ""),))
    assert finding(SmtpOpenRelay, SmtpRelay, mail_refused).passed  # refusing the outside sender is refusing


def test_open_relay_is_not_intrusive_and_never_sends_data() -> None:
    assert SmtpOpenRelay.meta.intrusive is False
    assert "never DATA" in (SmtpRelayFacts("mx", ()).evidence().method or "")


# --------------------------------------------------------------------- IMAP / POP3

IMAP = Target(host="198.18.0.22", port=143, service="imap")
POP3 = Target(host="198.18.0.22", port=110, service="pop3")
# Pre-TLS capabilities recorded from the lab's Dovecot 2.3.
DOVECOT_PLAIN = ("IMAP4REV1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN",
                 "AUTH=LOGIN")
DOVECOT_REQUIRED = ("IMAP4REV1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "STARTTLS",
                    "LOGINDISABLED")


@pytest.mark.parametrize("caps, preauth, ok, words", [
    (DOVECOT_PLAIN, False, False, "no STARTTLS"),
    (("IMAP4REV1", "STARTTLS", "AUTH=PLAIN"), False, False, "STARTTLS offered but not required"),
    (DOVECOT_REQUIRED, False, True, "LOGINDISABLED"),
    (("IMAP4REV1", "LOGINDISABLED"), False, True, "no login possible"),
    (("IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"), False, False, "AUTH=PLAIN"),
    (("IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=SCRAM-SHA-256"), False, True, "LOGINDISABLED"),
    (DOVECOT_REQUIRED, True, False, "PREAUTH"),
])
def test_imap_cleartext_login(caps: tuple[str, ...], preauth: bool, ok: bool, words: str) -> None:
    (result,) = ImapCleartextLogin().evaluate(IMAP, {ImapCapability: ImapFacts("* OK ready", caps, preauth)})
    assert isinstance(result, Finding) and result.passed is ok and words in result.detail, result.detail


@pytest.mark.parametrize("capa, supported, ok, words", [
    (("TOP", "UIDL", "USER", "SASL PLAIN LOGIN"), True, False, "USER/PASS allowed"),
    (("TOP", "STLS", "USER"), True, False, "STLS offered but not required"),
    (("TOP", "UIDL", "STLS", "SASL"), True, True, "STLS offered"),  # Dovecot with ssl = required
    (("TOP", "STLS", "SASL CRAM-MD5"), True, True, "no password login"),
    ((), False, False, "does not support CAPA"),
])
def test_pop3_cleartext_login(capa: tuple[str, ...], supported: bool, ok: bool, words: str) -> None:
    (result,) = Pop3CleartextLogin().evaluate(POP3, {Pop3Capa: Pop3Facts("+OK ready", supported, capa)})
    assert isinstance(result, Finding) and result.passed is ok and words in result.detail, result.detail


# --------------------------------------------------------------------- mail.consumer_provider


@pytest.mark.parametrize("host, consumer", [
    ("gmail-smtp-in.l.google.com", True), ("alt2.gmail-smtp-in.l.google.com.", True),
    ("aspmx.l.google.com", False), ("alt1.aspmx.l.google.com", False),
    ("mta7.am0.yahoodns.net", True), ("hotmail-com.olc.protection.outlook.com", True),
    ("clinic-com.mail.protection.outlook.com", False), ("mx01.mail.icloud.com", True),
    ("mx00.gmx.net", True), ("mail.good-clinic.test", None), ("notgmail-smtp-in.l.google.com.evil.example", None),
])
def test_provider_of_mx(host: str, consumer: bool | None) -> None:
    provider = provider_of_mx(host)
    assert (provider.consumer if provider else None) is consumer


def test_provider_of_address_domain() -> None:
    provider = provider_of_address_domain("GMAIL.com")
    assert provider is not None and provider.consumer and provider_of_address_domain("good-clinic.test") is None


def test_mx_hosts_are_sorted_by_preference() -> None:
    assert mx_hosts(("20 b.example.", "10 A.example.", "5 .")) == ["", "a.example", "b.example"]


def _mx_zone(*mx: str) -> dict[tuple[str, str], list[str]]:
    zone: dict[tuple[str, str], list[str]] = dict(apex("v=spf1 -all"))  # type: ignore[arg-type]
    zone[("clinic.example", "MX")] = list(mx)
    return zone


@pytest.mark.parametrize("mx, ok, words", [
    (("10 gmail-smtp-in.l.google.com.",), False, "Gmail (consumer Google account)"),
    (("5 gmail-smtp-in.l.google.com.", "10 alt1.gmail-smtp-in.l.google.com."), False, "BAA"),
    (("1 aspmx.l.google.com.", "5 alt1.aspmx.l.google.com."), True, "Google Workspace"),
    (("0 clinic-example.mail.protection.outlook.com.",), True, "verify that it is signed"),
    (("10 mx.clinic.example.",), True, "no consumer mailbox service"),
    (("0 .",), True, "null MX"),
    ((), True, "no MX"),
])
def test_consumer_provider(collect: Any, mx: tuple[str, ...], ok: bool, words: str) -> None:  # noqa: F811
    result = judge_domain(MailConsumerProvider, collect(_mx_zone(*mx)))
    assert isinstance(result, Finding) and result.passed is ok and words in result.detail, result.detail


def test_consumer_provider_for_an_address_domain(collect: Any) -> None:  # noqa: F811
    facts = collect({("gmail.com", "MX"): ["5 gmail-smtp-in.l.google.com."], ("gmail.com", "TXT"): ["x"]}, "gmail.com")
    result = judge_domain(MailConsumerProvider, facts)
    assert isinstance(result, Finding) and not result.passed and "address domain" in result.detail


def test_consumer_provider_uses_the_domain_probe() -> None:
    assert MailConsumerProvider.probes == (DomainDns,) and MailConsumerProvider.meta.applies_to.domains
