"""SMB NEGOTIATE facts: which dialects the server accepts and its signing policy.

Three exchanges, each on its own connection, NEGOTIATE only (no logon, nothing read):
1. SMB2 offering 2.0.2, 2.1, 3.0, 3.0.2 — the server picks its highest and its SecurityMode
   shows the real signing policy (MS-SMB2 2.2.4);
2. SMB2 offering 3.1.1 alone (with the mandatory negotiate contexts) — whether 3.1.1 is
   accepted, and the raw policy bit for 3.1.1-only servers (never impacket's forced "required");
3. SMB1 offering NT LM 0.12 alone — whether SMBv1 is accepted (MS-CIFS 2.2.4.52).

A refusal counts only when the server says so (an NT status, DialectIndex 0xFFFF) or, as
Windows does for SMB1, hangs up without a byte twice in a row while another exchange on the same
port succeeded. A timeout, garbage or a reset mid-reply is an error, never a verdict.

The SMB checks are planned on the ``smb`` service (445/tcp, Direct TCP) only: 139/tcp
(``netbios-ssn``) reaches the same server and would only duplicate every finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from checks.smb import wire
from checks.smb.transport import ClosedWithoutReply, Deadline, exchange
from checks.smb.wire import NegotiateReply
from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow

OFFERED_SMB2 = tuple(wire.DIALECT_NAMES[d] for d in wire.DIALECTS_UP_TO_302)
CLOSED = "connection closed without a reply (twice)"


@dataclass(frozen=True)
class SmbNegotiateFacts:
    """The three NEGOTIATE outcomes for one SMB service."""

    smb2: NegotiateReply  # 2.0.2 .. 3.0.2 offered together
    smb311: NegotiateReply  # 3.1.1 offered alone
    smb1: NegotiateReply  # NT LM 0.12 offered alone

    @property
    def smb1_accepted(self) -> bool:
        return self.smb1.dialect is not None

    @property
    def smb2_policy(self) -> NegotiateReply | None:
        """The SMB2/3 reply whose SecurityMode states the policy (≤ 3.0.2 first, else 3.1.1)."""
        for reply in (self.smb2, self.smb311):
            if reply.dialect is not None:
                return reply
        return None

    @property
    def accepted_dialects(self) -> tuple[str, ...]:
        return tuple(r.dialect for r in (self.smb1, self.smb2, self.smb311) if r.dialect is not None)

    def evidence(self) -> Evidence:
        def one(offered: tuple[str, ...], reply: NegotiateReply) -> dict[str, object]:
            return {"offered": list(offered), "accepted": reply.dialect,
                    "security_mode": None if reply.security_mode is None else f"{reply.security_mode:#04x}",
                    "signing_enabled": reply.signing_enabled, "signing_required": reply.signing_required,
                    "refusal": reply.refusal or None}

        policy = self.smb2_policy
        summary = f"dialects accepted: {', '.join(self.accepted_dialects) or 'none'}"
        if policy is not None:
            mode = "not read" if policy.security_mode is None else f"{policy.security_mode:#04x}"
            summary += f"; SMB {policy.dialect} SecurityMode {mode} " \
                       f"(signing {'required' if policy.signing_required else 'not required'})"
        if self.smb1_accepted:
            summary += f"; SMB1 signing {'required' if self.smb1.signing_required else 'not required'}"
        return Evidence(
            kind="smb-negotiate",
            summary=summary,
            data={"smb2": one(OFFERED_SMB2, self.smb2), "smb3_1_1": one(("3.1.1",), self.smb311),
                  "smb1": one((wire.SMB1_DIALECT,), self.smb1)},
            collected_at=utcnow(),
            method="SMB NEGOTIATE x3 (2.0.2-3.0.2, 3.1.1, NT LM 0.12), no session setup",
        )


class SmbNegotiate(Probe[SmbNegotiateFacts]):
    """NEGOTIATE three ways on an SMB port; no authentication, nothing read."""

    name = "smb-negotiate"

    def collect(self, target: Target, ctx: ProbeContext) -> SmbNegotiateFacts:
        assert target.host is not None and target.port is not None
        deadline = Deadline(ctx.remaining(ctx.timeouts.probe))
        host, port = target.host, target.port

        def attempt(what: str, request: bytes, parse: Callable[[bytes], NegotiateReply],
                    tries: int) -> NegotiateReply | None:
            """The reply, or None when every try was closed without a reply."""
            for _ in range(tries):
                try:
                    raw = exchange(host, port, request, connect_timeout=ctx.timeouts.connect,
                                   read_timeout=ctx.timeouts.read, deadline=deadline, what=what)
                except ClosedWithoutReply:
                    continue
                return parse(raw)
            return None

        smb2 = attempt("SMB2 NEGOTIATE 2.0.2-3.0.2", wire.smb2_negotiate_request(wire.DIALECTS_UP_TO_302),
                       lambda raw: wire.parse_smb2_negotiate_reply(raw, wire.DIALECTS_UP_TO_302), 1)
        smb311 = attempt("SMB2 NEGOTIATE 3.1.1", wire.smb2_negotiate_request((wire.DIALECT_311,)),
                         lambda raw: wire.parse_smb2_negotiate_reply(raw, (wire.DIALECT_311,)), 1)
        smb1 = attempt("SMB1 NEGOTIATE NT LM 0.12", wire.smb1_negotiate_request(),
                       wire.parse_smb1_negotiate_reply, 2)
        replies = (smb2, smb311, smb1)
        if not any(r is not None and r.dialect is not None for r in replies):
            outcome = "; ".join(r.refusal if r is not None else "closed without reply" for r in replies)
            raise ProtocolError(f"SMB server at {host}:{port} accepted no NEGOTIATE ({outcome})")
        # Another exchange succeeded, so a silent hang-up is the server's way of saying no.
        refused = NegotiateReply(dialect=None, refusal=CLOSED)
        return SmbNegotiateFacts(smb2=smb2 or refused, smb311=smb311 or refused, smb1=smb1 or refused)
