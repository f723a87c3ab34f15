"""SMB checks judged on hand-built facts: smb.signing_not_required, smb.v1_enabled,
smb.guest_access, smb.open_share. No network."""

from __future__ import annotations

from typing import Any

from checks.smb.guest_access import SmbGuestAccess
from checks.smb.open_share import SmbOpenShare
from checks.smb.probe import CLOSED, SmbNegotiate, SmbNegotiateFacts
from checks.smb.shares_probe import SessionOutcome, ShareAccess, SmbAnonymousAccess, SmbAnonymousFacts
from checks.smb.signing import SmbSigningNotRequired
from checks.smb.smbv1 import SmbV1Enabled
from checks.smb.wire import NegotiateReply
from scanner.check import Check
from scanner.models import Finding, Severity, Target

TARGET = Target(host="198.18.0.10", port=445, service="smb")
REFUSED = NegotiateReply(dialect=None, refusal="STATUS_NOT_SUPPORTED")


def smb2(dialect: str, mode: int) -> NegotiateReply:
    return NegotiateReply(dialect=dialect, security_mode=mode, signing_enabled=bool(mode & 1),
                          signing_required=bool(mode & 2))


def smb1(mode: int) -> NegotiateReply:
    return NegotiateReply(dialect="NT LM 0.12", security_mode=mode, signing_enabled=bool(mode & 4),
                          signing_required=bool(mode & 8))


def judge(check: Check, probe: Any, facts: Any) -> list[Finding]:
    findings = list(check.evaluate(TARGET, {probe: facts}))
    assert findings and all(isinstance(f, Finding) for f in findings)
    for finding in findings:
        assert finding.evidence, "every finding carries evidence"
    return findings  # type: ignore[return-value]


# ---------------------------------------------------------------- signing

def test_signing_fails_when_smb2_policy_does_not_require_it() -> None:
    # The lab's weak Samba: 3.0.2 SecurityMode 0x01, SMB1 SecurityMode 0x03 (no signing bits).
    facts = SmbNegotiateFacts(smb2=smb2("3.0.2", 0x01), smb311=smb2("3.1.1", 0x01), smb1=smb1(0x03))
    (finding,) = judge(SmbSigningNotRequired(), SmbNegotiate, facts)
    assert not finding.passed
    assert "SMB 3.0.2: signing enabled but not required" in finding.detail
    assert "SMB1 (NT LM 0.12): signing disabled" in finding.detail
    assert "198.18.0.10:445" in finding.detail
    data = finding.evidence[0].data
    assert data["smb2"]["accepted"] == "3.0.2" and data["smb2"]["security_mode"] == "0x01"
    assert data["smb2"]["signing_required"] is False


def test_signing_passes_when_required_and_no_smb1() -> None:
    facts = SmbNegotiateFacts(smb2=smb2("3.0.2", 0x03), smb311=smb2("3.1.1", 0x03),
                              smb1=NegotiateReply(dialect=None, refusal="no common dialect"))
    (finding,) = judge(SmbSigningNotRequired(), SmbNegotiate, facts)
    assert finding.passed and "signing required" in finding.detail


def test_signing_on_a_311_only_server_uses_the_raw_bit_not_impackets_forced_true() -> None:
    # A 3.1.1-only server that does not require signing must FAIL (impacket would say "required").
    facts = SmbNegotiateFacts(smb2=REFUSED, smb311=smb2("3.1.1", 0x01), smb1=REFUSED)
    (finding,) = judge(SmbSigningNotRequired(), SmbNegotiate, facts)
    assert not finding.passed and "SMB 3.1.1: signing enabled but not required" in finding.detail
    facts = SmbNegotiateFacts(smb2=REFUSED, smb311=smb2("3.1.1", 0x03), smb1=REFUSED)
    assert judge(SmbSigningNotRequired(), SmbNegotiate, facts)[0].passed


def test_signing_fails_when_smb2_requires_but_smb1_does_not() -> None:
    facts = SmbNegotiateFacts(smb2=smb2("3.0.2", 0x03), smb311=REFUSED, smb1=smb1(0x07))
    (finding,) = judge(SmbSigningNotRequired(), SmbNegotiate, facts)
    assert not finding.passed and "SMB1 (NT LM 0.12): signing enabled but not required" in finding.detail


def test_signing_on_an_smb1_only_server() -> None:
    refused = NegotiateReply(dialect=None, refusal=CLOSED)
    assert judge(SmbSigningNotRequired(), SmbNegotiate,
                 SmbNegotiateFacts(smb2=refused, smb311=refused, smb1=smb1(0x0F)))[0].passed
    assert not judge(SmbSigningNotRequired(), SmbNegotiate,
                     SmbNegotiateFacts(smb2=refused, smb311=refused, smb1=smb1(0x03)))[0].passed


# ---------------------------------------------------------------- SMBv1

def test_v1_fails_when_nt_lm_accepted() -> None:
    facts = SmbNegotiateFacts(smb2=smb2("3.0.2", 0x01), smb311=smb2("3.1.1", 0x01), smb1=smb1(0x03))
    (finding,) = judge(SmbV1Enabled(), SmbNegotiate, facts)
    assert not finding.passed and "NT LM 0.12 accepted" in finding.detail
    assert facts.accepted_dialects == ("NT LM 0.12", "3.0.2", "3.1.1")


def test_v1_passes_and_says_how_the_server_refused() -> None:
    facts = SmbNegotiateFacts(smb2=smb2("3.0.2", 0x03), smb311=smb2("3.1.1", 0x03),
                              smb1=NegotiateReply(dialect=None, refusal="no common dialect (DialectIndex 0xFFFF)"))
    (finding,) = judge(SmbV1Enabled(), SmbNegotiate, facts)
    assert finding.passed and "DialectIndex 0xFFFF" in finding.detail and "3.0.2, 3.1.1" in finding.detail


# ---------------------------------------------------------------- guest access / open shares

NULL_OK = SessionOutcome("null session", "3.0", True, False, enumerated=True)
GUEST_OK = SessionOutcome("guest", "3.0", True, True, enumerated=True)
NULL_BARE = SessionOutcome("null session", "3.0", True, False, enumerated=False, enum_status="STATUS_ACCESS_DENIED")
GUEST_NO = SessionOutcome("guest", "3.0", False, logon_status="STATUS_LOGON_FAILURE")
SCANS = ShareAccess("scans", "disk", "scanned intake forms", read_by=("null session", "guest"))
BILLING = ShareAccess("billing", "disk", "staff", denied=("null session: STATUS_ACCESS_DENIED",))
IPC = ShareAccess("IPC$", "ipc", "IPC Service")


def test_guest_access_fails_when_null_session_enumerates_and_reads() -> None:
    facts = SmbAnonymousFacts(sessions=(NULL_OK, GUEST_OK), shares=(SCANS, BILLING, IPC), write_tested=False)
    (finding,) = judge(SmbGuestAccess(), SmbAnonymousAccess, facts)
    assert not finding.passed
    assert "null session enumerated shares and opened scans" in finding.detail
    assert "guest enumerated shares" in finding.detail


def test_guest_access_passes_when_logon_accepted_but_nothing_reachable() -> None:
    # Samba restrict anonymous = 2 / Windows default: the anonymous logon works, then every door is shut.
    facts = SmbAnonymousFacts(sessions=(NULL_BARE, GUEST_NO), shares=(), write_tested=False)
    (finding,) = judge(SmbGuestAccess(), SmbAnonymousAccess, facts)
    assert finding.passed
    assert "enumeration refused (STATUS_ACCESS_DENIED)" in finding.detail
    assert "guest logon refused (STATUS_LOGON_FAILURE)" in finding.detail


def test_guest_access_fails_when_share_readable_without_enumeration() -> None:
    share = ShareAccess("scans", "disk", "", read_by=("guest",))
    guest = SessionOutcome("guest", "3.0", True, True, enumerated=False, enum_status="rpc_s_access_denied")
    facts = SmbAnonymousFacts(sessions=(NULL_BARE, guest), shares=(share,), write_tested=False)
    (finding,) = judge(SmbGuestAccess(), SmbAnonymousAccess, facts)
    assert not finding.passed and "guest opened scans" in finding.detail


def test_open_share_one_finding_per_disk_share_with_discriminator() -> None:
    facts = SmbAnonymousFacts(sessions=(NULL_OK, GUEST_OK), shares=(SCANS, BILLING, IPC), write_tested=False)
    findings = judge(SmbOpenShare(), SmbAnonymousAccess, facts)
    by_share = {f.discriminator: f for f in findings}
    assert set(by_share) == {"scans", "billing"}, "IPC$ is not a disk share"
    assert not by_share["scans"].passed
    assert "READ by null session, guest" in by_share["scans"].detail
    assert "WRITE not tested (intrusive checks off)" in by_share["scans"].detail
    assert by_share["scans"].detail.startswith("\\\\198.18.0.10\\scans")
    assert by_share["billing"].passed and "STATUS_ACCESS_DENIED" in by_share["billing"].detail
    shares = by_share["scans"].evidence[0].data["shares"]
    assert {s["name"] for s in shares} == {"scans", "billing", "IPC$"}


def test_open_share_writable_is_critical_and_says_file_removed() -> None:
    share = ShareAccess("drop", "disk", "", read_by=("guest",), write_by=("guest",), write_tested=True)
    facts = SmbAnonymousFacts(sessions=(GUEST_OK,), shares=(share,), write_tested=True)
    (finding,) = judge(SmbOpenShare(), SmbAnonymousAccess, facts)
    assert not finding.passed and finding.severity is Severity.CRITICAL
    assert "WRITE by guest" in finding.detail


def test_open_share_write_refused_and_leftover_file_is_reported() -> None:
    share = ShareAccess("scans", "disk", "", read_by=("guest",), write_tested=True,
                        denied=("guest write: STATUS_ACCESS_DENIED",),
                        notes=("write-test file x could not be removed",))
    facts = SmbAnonymousFacts(sessions=(GUEST_OK,), shares=(share,), write_tested=True)
    (finding,) = judge(SmbOpenShare(), SmbAnonymousAccess, facts)
    assert not finding.passed and finding.severity is None
    assert "WRITE refused" in finding.detail and "could not be removed" in finding.detail


def test_open_share_passes_with_one_finding_when_nothing_enumerated() -> None:
    facts = SmbAnonymousFacts(sessions=(NULL_BARE, GUEST_NO), shares=(), write_tested=False)
    (finding,) = judge(SmbOpenShare(), SmbAnonymousAccess, facts)
    assert finding.passed and finding.discriminator == ""
    assert "no disk share could be enumerated or opened" in finding.detail


def test_hostile_share_name_is_sanitized_in_detail() -> None:
    share = ShareAccess("evil\u202e\x1b[31m", "disk", "", read_by=("guest",))
    facts = SmbAnonymousFacts(sessions=(GUEST_OK,), shares=(share,), write_tested=False)
    (finding,) = judge(SmbOpenShare(), SmbAnonymousAccess, facts)
    assert "\x1b" not in finding.detail and "\u202e" not in finding.detail
    assert "\x1b" not in str(finding.evidence[0].data["shares"])
