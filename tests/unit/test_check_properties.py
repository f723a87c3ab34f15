"""Property test of every registered check (issue 15): no PASS from facts that do not establish it.

For every check in the registry (a new check is covered, and must say below what establishes its
PASS), Hypothesis builds its probes' facts from their types — the frozen dataclasses each probe
returns, field by field, nested dataclasses too — in three shapes:

- *any*: every field drawn, strings from a mix of protocol tokens and noise, so contradictory
  facts are common (a DNSSEC zone with no DNSKEY whose chain is marked valid, an SMTP server
  whose EHLO failed but lists STARTTLS);
- *empty*: every string empty, every collection empty, every number 0, every optional None (only
  booleans and enums drawn): a probe that observed nothing;
- *probe error*: each probe raises ``ProbeError`` (any reason) in the real runner.

and asserts that (1) the check never yields a PASS unless ``ESTABLISHES[check id]`` holds for the
facts: the minimal observation the PASS claims (the server's own refusal, a record that was
answered, a listening window that was long enough); (2) empty facts never PASS; (3) a probe error
is an ``error`` result, never a PASS; (4) nothing raises but the exceptions documented in
``DOCUMENTED_RAISES`` (which the runner records as ``error/bug``, never a PASS).

Bounded: ``max_examples`` per check keeps the whole file well under a minute on two cores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from checks.cleartext.ftp_tls_probe import FtpAuthTls
from checks.cleartext.http_probe import HttpFrontPage
from checks.cleartext.vnc_probe import RfbSecurityTypes
from checks.cloudsync.listen import ANNOUNCE_INTERVAL, LanSyncAnnouncements
from checks.cloudsync.listener import SyncListener
from checks.db.mssql_probe import MssqlFacts
from checks.db.mssql_wire import ENCRYPT_ON, ENCRYPT_REQ
from checks.db.mysql_probe import MysqlFacts
from checks.dns.probe import DomainDns
from checks.dns.resolver import AnswerStatus
from checks.endpoint.hostkeys import KeyStatus
from checks.endpoint.probe import EndpointCollector
from checks.ftp.probe import FtpAnonymous
from checks.mail.imap_probe import ImapCapability
from checks.mail.pop3_probe import Pop3Capa
from checks.mail.smtp_probe import SmtpEhlo
from checks.mail.smtp_relay_probe import SmtpRelay
from checks.mail.smtp_tls_probe import SmtpStarttls
from checks.nfs.probe import NfsExports
from checks.rdp.negotiation import RdpNegotiation
from checks.smb.probe import SmbNegotiate
from checks.smb.shares_probe import SmbAnonymousAccess
from checks.snmp.probe import SnmpDefaultCommunities
from checks.tls.probe import TlsProbe
from scanner.check import Probe
from scanner.config.framework import load_framework
from scanner.config.profiles import Profile, select_checks
from scanner.engine.planner import NETWORK_TARGET, Plan, PlannedCheck
from scanner.engine.registry import RegisteredCheck, Registry, load_registry
from scanner.engine.runner import NullProgress, _RunState, execute_plan
from scanner.errors import ProbeError
from scanner.models import ErrorReason, Finding, Skip, Status, Target, Undetermined

REGISTRY: Registry = load_registry(load_framework())
Facts = Mapping[type[Probe[Any]], Any]

# Strings a probe reads off the wire, so that drawn facts reach the branches that matter.
TOKENS = ("", " ", "220 mail.example ESMTP", "250 OK", "530 Login incorrect", "550 relay denied", "+OK", "-ERR",
          "* OK ready", "STARTTLS", "AUTH PLAIN LOGIN", "AUTH CRAM-MD5", "LOGINDISABLED", "AUTH=PLAIN", "USER",
          "SASL PLAIN", "STLS", "S", "N", "auth", "error", "ok", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", "SSLv3",
          "RFB 003.008", "v=spf1 -all", "v=spf1 +all", "v=DMARC1; p=reject; rua=mailto:d@example.org",
          "example.org", "198.18.0.20", "USER anonymous", "PASS guest@", "NT LM 0.12", "SMB 2.1", "public",
          "28000", "STATUS_ACCESS_DENIED", "guest", "IPC$", "share", "/srv/export", "*", "everyone")


def strategy(tp: Any, *, empty: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of type ``tp``: drawn (``empty=False``) or observed-nothing (``empty=True``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return st.none()
    if origin in (typing.Union, types.UnionType):
        if empty and type(None) in args:
            return st.none()
        return st.one_of(*(strategy(a, empty=empty, depth=depth) for a in args))
    if origin is tuple:
        if empty:
            return st.just(())
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy(args[0], empty=False, depth=depth + 1), max_size=3 if depth < 2 else 1) \
                .map(tuple)
        return st.tuples(*(strategy(a, empty=False, depth=depth + 1) for a in args))
    if origin is dict or tp is dict:
        return st.just({}) if empty else st.dictionaries(st.sampled_from(("version", "displayname", "port")),
                                                         st.sampled_from(TOKENS), max_size=2)
    if tp is bool:
        return st.booleans()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is str:
        return st.just("") if empty else st.one_of(st.sampled_from(TOKENS), st.text(max_size=12))
    if tp is int:
        return st.just(0) if empty else st.one_of(
            st.sampled_from((0, 1, 2, 3, 220, 234, 250, 530, 0x10, 0x0F, 1045, 3159)), st.integers(-1, 70000))
    if tp is float:
        return st.just(0.0) if empty else st.one_of(st.sampled_from((0.0, 5.0, 60.0, 120.0)),
                                                    st.floats(0, 1e5, allow_nan=False))
    if tp is datetime:
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
    if tp is Any:
        return st.none()
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        fields = {f.name: strategy(hints[f.name], empty=empty, depth=depth + 1)
                  for f in dataclasses.fields(tp) if f.init}
        return st.builds(tp, **fields)
    return st.from_type(tp)


def facts_type(probe: type[Probe[Any]]) -> Any:
    return typing.get_type_hints(probe.collect)["return"]


def targets_for(check: RegisteredCheck) -> list[Target]:
    applies = check.meta.applies_to
    found: list[Target] = []
    found += [Target(host="198.18.0.20", port=4000 + i, service=s) for i, s in enumerate(sorted(applies.services))]
    if applies.domains:
        found.append(Target(domain="example.org"))
    if applies.hosts:
        found.append(Target(host="198.18.0.20"))
    if applies.network:
        found.append(NETWORK_TARGET)
    return found


# --------------------------------------------------------------------------- what establishes a PASS
# Each entry: the minimal observation in the facts that the check's PASS claims. A PASS from facts
# where it does not hold is a false PASS.

def _refused_reply(code: str) -> bool:
    return code[:1] in ("4", "5")


def _endpoint_section(section: str) -> Callable[[Facts, Target], bool]:
    def establishes(facts: Facts, _target: Target) -> bool:
        ep = facts[EndpointCollector]
        inv = ep.inventory
        value = getattr(inv, section, None) if inv is not None else None
        return (not ep.no_credentials and not ep.refused and value is not None
                and not getattr(value, "unknown", None))
    return establishes


def _lan_sync(facts: Facts, target: Target) -> bool:
    lan = facts[LanSyncAnnouncements]
    if target.host is not None:
        # A sync port's only PASS, "not Syncthing", needs the port's own answer: a completed TLS
        # handshake that names something else (ALPN or certificate), a TLS alert refusing BEP's
        # ALPN, or bytes that are not TLS 1.2+ (the probe's note records which), never a reset
        # (the probe raises ProtocolError for that) or no answer at all.
        listener = facts.get(SyncListener)
        return listener is not None and not listener.verified and bool(listener.note)
    return not lan.denied and lan.window_s >= ANNOUNCE_INTERVAL


def _tls_tested(facts: Facts, _target: Target) -> bool:
    tls = facts[TlsProbe]
    return tls.available and bool(tls.accepted)


def _legacy_refused(facts: Facts, target: Target) -> bool:
    tls = facts[TlsProbe]
    refused = {v.version for v in tls.versions if not v.accepted}
    return _tls_tested(facts, target) and {"SSLv3", "TLSv1.0", "TLSv1.1"} <= refused


def _db(facts: Facts, _target: Target) -> bool:
    got = next(iter(facts.values()))
    if isinstance(got, MysqlFacts):
        return got.greeting is not None and got.greeting.tls_available and got.secure_transport_required
    if isinstance(got, MssqlFacts):
        return got.response.encryption_value in (ENCRYPT_ON, ENCRYPT_REQ)
    return got.tls_available and not got.cleartext_login_possible and bool(got.error_code)


def _dns_answered(*parts: str) -> Callable[[Facts, Target], bool]:
    def establishes(facts: Facts, _target: Target) -> bool:
        dns = facts[DomainDns]
        return all(getattr(dns, p).status in (AnswerStatus.OK, AnswerStatus.NODATA, AnswerStatus.NXDOMAIN)
                   for p in parts)
    return establishes


def _spf_valid(facts: Facts, _target: Target) -> bool:
    spf = facts[DomainDns].spf
    return spf.valid and len(spf.records) == 1


def _dnssec(facts: Facts, _target: Target) -> bool:
    sec = facts[DomainDns].dnssec
    return sec.signed and bool(sec.ds) and sec.chain_valid


def _smb_sessions(facts: Facts, _target: Target) -> bool:
    anon = facts[SmbAnonymousAccess]
    # Each attempt ended in a recorded outcome: refused with a status, or logged on.
    return bool(anon.sessions) and all(s.logged_on or s.logon_status for s in anon.sessions)


def _smb1_refused(facts: Facts, _target: Target) -> bool:
    neg = facts[SmbNegotiate]
    return neg.smb1.dialect is None and bool(neg.smb1.refusal) and bool(neg.accepted_dialects)


def _ftp_refused(facts: Facts, _target: Target) -> bool:
    ftp = facts[FtpAnonymous]
    return any(sent.startswith(("USER", "PASS")) and _refused_reply(str(reply.code)) for sent, reply in ftp.dialogue)


def _rdp_nla(facts: Facts, _target: Target) -> bool:
    rdp = facts[RdpNegotiation]
    return (not rdp.rdp_only.accepted and bool(rdp.rdp_only.failure) and rdp.full_offer.accepted
            and rdp.full_offer.selected is not None)


def _smtp_ehlo(facts: Facts, _target: Target) -> bool:
    ehlo = facts[SmtpEhlo]
    return 200 <= ehlo.ehlo_code <= 599


def _relay(facts: Facts, _target: Target) -> bool:
    relay = facts[SmtpRelay]
    return bool(relay.attempts) and all(_refused_reply(a.rcpt_reply or a.mail_reply) for a in relay.attempts)


def _host_key(facts: Facts, _target: Target) -> bool:
    ep = facts[EndpointCollector]
    return ep.host_key is not None and ep.host_key.status in (KeyStatus.KNOWN, KeyStatus.FIRST_USE)


ESTABLISHES: dict[str, Callable[[Facts, Target], bool]] = {
    "cleartext.ftp": lambda f, t: f[FtpAuthTls].auth_tls.code == 234,
    # "No login form" judges a page the server actually gave: a 2xx with a body.
    "cleartext.http_login": lambda f, t: 200 <= f[HttpFrontPage].final_status < 300 and f[HttpFrontPage].body_bytes > 0,
    "cleartext.telnet": lambda f, t: False,  # the check reports only the gap (FAIL) or error: a PASS is never right
    "cleartext.vnc": lambda f, t: f[RfbSecurityTypes].server_version != "" and bool(f[RfbSecurityTypes].security_types),
    "cloudsync.client_installed": _endpoint_section("sync_clients"),
    "cloudsync.dropbox_lansync": _lan_sync,
    "cloudsync.resilio": _lan_sync,
    "cloudsync.syncthing": _lan_sync,
    "db.cleartext_exposed": _db,
    "dns.dkim_missing": lambda f, t: any(k.usable for k in f[DomainDns].dkim.keys),
    "dns.dmarc_missing": lambda f, t: bool(f[DomainDns].dmarc.records),
    "dns.dmarc_weak": lambda f, t: bool(f[DomainDns].dmarc.records),
    "dns.dnssec_missing": _dnssec,
    "dns.mta_sts_missing": lambda f, t: bool(f[DomainDns].mta_sts.records),
    "dns.spf_invalid": _spf_valid,
    "dns.spf_missing": lambda f, t: bool(f[DomainDns].spf.records),
    "dns.spf_weak": _spf_valid,
    "dns.tls_rpt_missing": lambda f, t: bool(f[DomainDns].tls_rpt.records),
    "mail.consumer_provider": _dns_answered("mx"),
    "endpoint.accounts_weak": _endpoint_section("accounts"),
    "endpoint.antimalware_missing": _endpoint_section("antimalware"),
    "endpoint.backup_missing": _endpoint_section("backup"),
    "endpoint.backup_stale": _endpoint_section("backup"),
    "endpoint.backup_unencrypted": _endpoint_section("backup"),
    "endpoint.disk_encryption_off": _endpoint_section("disk"),
    "endpoint.firewall_off": _endpoint_section("firewall"),
    "endpoint.os_unsupported": _endpoint_section("os"),
    "endpoint.patches_pending": _endpoint_section("patches"),
    "endpoint.screen_lock_missing": _endpoint_section("screen_lock"),
    "endpoint.software_unsupported": _endpoint_section("software"),
    "endpoint.ssh_host_key_changed": _host_key,
    "ftp.anonymous_login": _ftp_refused,
    # LOGINDISABLED (RFC 3501 §6.2.3) is what the PASS rests on: the server's own capability list.
    "imap.cleartext_login": lambda f, t: "LOGINDISABLED" in {c.upper() for c in f[ImapCapability].capabilities},
    "nfs.open_export": lambda f, t: f[NfsExports].mount_port is not None,
    "pop3.cleartext_login": lambda f, t: f[Pop3Capa].greeting.startswith("+OK") and f[Pop3Capa].capa_supported,
    "rdp.nla_not_required": _rdp_nla,
    "smb.guest_access": _smb_sessions,
    "smb.open_share": _smb_sessions,
    "smb.signing_not_required": lambda f, t: f[SmbNegotiate].smb2_policy is not None
    and f[SmbNegotiate].smb2_policy.signing_required is True,
    "smb.v1_enabled": _smb1_refused,
    "smtp.cleartext_auth": _smtp_ehlo,
    "smtp.open_relay": _relay,
    "smtp.starttls_missing": _smtp_ehlo,
    "smtp.tls_weak": lambda f, t: f[SmtpStarttls].starttls_offered and f[SmtpStarttls].tls_version is not None,
    "snmp.default_community": lambda f, t: not f[SnmpDefaultCommunities].answered
    and bool(f[SnmpDefaultCommunities].refused),
    "tls.certificate_problem": lambda f, t: _tls_tested(f, t) and f[TlsProbe].cert is not None,
    "tls.legacy_protocol": _legacy_refused,
    "tls.weak_cipher": _tls_tested,
}

# Checks whose false PASS paths are known and not yet fixed: none (issue 15's verdict fixes
# landed). A check added here runs as xfail with the reason given.
XFAIL: dict[str, str] = {}

# Exceptions a check documents for facts its probe never produces (the runner records them as
# error/bug, never a PASS).
DOCUMENTED_RAISES: dict[str, tuple[type[BaseException], ...]] = {
    "dns.spf_invalid": (RuntimeError,),  # SPF temperror: the probe raises ProbeError instead
}

# Checks whose PASS may rest on an answer that lists nothing: the answer itself is the observation.
EMPTY_MAY_PASS = {
    "mail.consumer_provider": "an MX query answered with no record (NODATA): the domain receives no mail by MX",
}

CHECK_IDS = REGISTRY.ids()


def _checked(check_id: str) -> Any:
    """The parameter for one check id, xfail (strict: fails once h5's fix lands) where XFAIL says."""
    if check_id in XFAIL:
        return pytest.param(check_id, marks=pytest.mark.xfail(reason=XFAIL[check_id], strict=False))
    return check_id


def test_every_registered_check_says_what_establishes_its_pass() -> None:
    missing = sorted(set(CHECK_IDS) - set(ESTABLISHES))
    assert not missing, f"add to ESTABLISHES what a PASS of these checks rests on: {missing}"


def _facts_for(check: RegisteredCheck, empty: bool) -> st.SearchStrategy[dict[type[Probe[Any]], Any]]:
    return st.fixed_dictionaries({p: strategy(facts_type(p), empty=empty) for p in check.cls.probes})


def _judge(check: RegisteredCheck, target: Target, facts: Facts) -> list[Finding | Skip | Undetermined]:
    try:
        items = list(check.cls().evaluate(target, facts))
    except DOCUMENTED_RAISES.get(check.id, ()):
        return []
    assert items, f"{check.id} yielded nothing"
    return items


def _passes(items: list[Finding | Skip | Undetermined]) -> list[Finding]:
    return [i for i in items if isinstance(i, Finding) and i.passed]


# No shrinking: a failure is reported with the example found (shrinking the deep endpoint and
# SMB facts costs more than the whole run).
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
EXAMPLES_RUN: dict[str, int] = {}
PROBE_ERRORS_RUN: list[str] = []


@pytest.mark.parametrize("check_id", [_checked(c) for c in CHECK_IDS])
def test_no_pass_from_facts_that_do_not_establish_it(check_id: str) -> None:
    check = REGISTRY.get(check_id)
    establishes = ESTABLISHES[check_id]

    @EXAMPLES
    @given(st.sampled_from(targets_for(check)), _facts_for(check, empty=False))
    def judged(target: Target, facts: dict[type[Probe[Any]], Any]) -> None:
        EXAMPLES_RUN[check_id] = EXAMPLES_RUN.get(check_id, 0) + 1
        for finding in _passes(_judge(check, target, facts)):
            assert establishes(facts, target), f"false PASS: {finding.detail}"

    judged()


@pytest.mark.parametrize("check_id", [_checked(c) for c in CHECK_IDS])
def test_facts_that_observed_nothing_never_pass(check_id: str) -> None:
    check = REGISTRY.get(check_id)

    @settings(max_examples=15, deadline=None, derandomize=True, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(targets_for(check)), _facts_for(check, empty=True))
    def judged(target: Target, facts: dict[type[Probe[Any]], Any]) -> None:
        EXAMPLES_RUN[check_id] = EXAMPLES_RUN.get(check_id, 0) + 1
        passes = _passes(_judge(check, target, facts))
        assert not passes or check_id in EMPTY_MAY_PASS, f"PASS from empty facts: {passes[0].detail}"

    judged()


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_a_probe_error_is_never_a_pass(check_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real runner: every probe of the check raises; every result is an error."""
    check = REGISTRY.get(check_id)
    reason: list[ErrorReason] = [ErrorReason.PROTOCOL]

    def failing(self: Probe[Any], target: Target, ctx: Any) -> Any:
        raise ProbeError("the server closed the connection", reason[0])

    for probe in check.cls.probes:
        monkeypatch.setattr(probe, "collect", failing)
        monkeypatch.setattr(probe, "applies", classmethod(lambda cls, target: True))
    profile = select_checks(Profile(name="p", description="d", intrusive=True, intrusive_reason="test",
                                    timeouts={"retries": 0}), REGISTRY, "test")

    @settings(max_examples=6, deadline=None, derandomize=True, phases=PHASES)
    @given(st.sampled_from(targets_for(check)), st.sampled_from(list(ErrorReason)))
    def judged(target: Target, why: ErrorReason) -> None:
        reason[0] = why
        PROBE_ERRORS_RUN.append(check_id)
        state = _RunState()
        plan = Plan((PlannedCheck(check, target),))
        asyncio.run(execute_plan(plan, profile, state, lambda r: None, NullProgress(), {}))
        assert state.results and all(r.status is Status.ERROR for r in state.results), state.results

    judged()


def test_zz_report_examples_run() -> None:
    """Prints the number of examples judged (a figure for the issue), never asserts time."""
    print(f"\nproperty examples judged: {sum(EXAMPLES_RUN.values())} facts over {len(EXAMPLES_RUN)} checks, "
          f"{len(PROBE_ERRORS_RUN)} probe errors through the runner over {len(set(PROBE_ERRORS_RUN))} checks")
