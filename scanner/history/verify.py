"""Recomputing a store's chains and checking them against what is kept outside it.

Per client, the run chain: sequence, the SHA-256 of every stored scan.json, the previous-run
links, the chain head (``scanner.history.chain``: it commits to every signature and timestamp
token below it), each signature with a *trusted* key only (``scanner.history.trust``), each RFC
3161 token, and every result row against the digested scan.json. The decision chain: sequence,
digests, links; the same for interview answers and sign-offs. Then every anchor (anchor log
lines of this store, heads given with ``--anchor``): the store must still hold that head at that
place. The first problem of each chain is reported, with the record named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, select

from scanner.history.anchors import Anchor
from scanner.history.chain import digest_text, run_head
from scanner.history.decisions import decision_digest
from scanner.history.interviews import answer_digest
from scanner.history.rows import body_of, result_row, token_bytes
from scanner.history.schema import interview_answers, results, signoffs
from scanner.history.signing import SCHEME_CHAIN_V1, SCHEME_RUN_V1, run_message, signature_ok
from scanner.history.signoffs import signoff_digest
from scanner.history.timestamps import TimestampError, check_reply
from scanner.history.trust import Trust
from scanner.models import ScanRun

# A timestamp a little before the scan's own start is the scanner's clock, not a forgery (RFC 3161
# §2.4.2 accuracy is the TSA's; the scanner's clock may be off by minutes).
CLOCK_SKEW = timedelta(minutes=10)
LATE_STAMP = timedelta(days=1)


@dataclass(frozen=True)
class VerifyProblem:
    """The first record of a chain that does not match."""

    client: str
    record: str  # "run 2026...-abc (#3)" / "decision #2" / "result <fp> of run ..."
    problem: str

    def __str__(self) -> str:
        return f"client {self.client!r}: {self.record}: {self.problem}"


@dataclass(frozen=True)
class VerifyReport:
    clients: int
    runs: int
    decisions: int
    problems: tuple[VerifyProblem, ...]
    other_problems: tuple[str, ...] = ()  # the anchor log itself, key rotations
    notes: tuple[str, ...] = ()
    signed: int = 0  # runs whose signature verified with a trusted key
    stamped: int = 0  # runs whose timestamp token verified
    anchors: int = 0  # anchors the store still holds
    answers: int = 0  # interview answers (issue 18)
    signoffs: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.other_problems


@dataclass
class RunChain:
    """What checking one client's run chain found."""

    problem: VerifyProblem | None = None
    heads: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (stored head, run id)
    signed: int = 0
    stamped: int = 0
    stamps_untrusted: int = 0
    late: list[str] = field(default_factory=list)  # notes: stamped long after the scan finished


def check_runs(conn: Connection, client: str, rows: Sequence[Any], trust: Trust, trust_text: str,
               tsa_certs: list[x509.Certificate] | None) -> RunChain:
    chain = RunChain(heads={row.seq: (row.chain_head, row.run_id) for row in rows})
    previous: str | None = None
    prev_head: str | None = None
    was_signed = False
    keys_seen: set[str] = set()
    for expected_seq, row in enumerate(rows, start=1):
        label = f"run {row.run_id} (#{row.seq})"

        def fail(problem: str, record: str = label) -> RunChain:
            chain.problem = VerifyProblem(client, record, problem)
            return chain

        if row.seq != expected_seq:
            return fail(f"out of sequence (expected #{expected_seq}): a run was removed")
        if digest_text(row.scan_json) != row.digest:
            return fail("stored scan.json does not match its SHA-256 digest")
        if row.prev_digest != previous:
            return fail("previous-run digest does not match the chain")
        try:
            body = body_of(client, row, prev_head)
            token = token_bytes(row)
        except ValueError as exc:
            return fail(str(exc))
        head = run_head(body, row.key_fingerprint, row.signature)
        if row.chain_head != head:
            return fail("does not match its chain head: a signature, timestamp token or link was changed "
                        "after it was stored")
        if row.signature is not None:
            fingerprint = row.key_fingerprint or ""
            public = trust.keys.get(fingerprint)
            if public is None:
                return fail(f"signed by key {fingerprint}, which is not one of the MSP's trusted keys ({trust_text})")
            if row.signature_scheme == SCHEME_CHAIN_V1:
                message = body
            elif row.signature_scheme == SCHEME_RUN_V1:
                message = run_message(row.run_id, row.digest, row.prev_digest)
            else:
                return fail(f"unknown signature scheme {row.signature_scheme!r}")
            if not signature_ok(public, row.signature, message):
                return fail(f"Ed25519 signature (key {fingerprint}) does not verify")
            retired = sorted(k for k in keys_seen if trust.retired_by(fingerprint, k))
            if retired:
                return fail(f"signed by key {fingerprint}, which an earlier run of the client shows was "
                            f"already handed over to key {retired[0]}")
            keys_seen.add(fingerprint)
            chain.signed += 1
            was_signed = True
        elif was_signed:
            return fail("unsigned, though earlier runs of the client were signed")
        if token is not None:
            try:
                stamp = check_reply(token, row.digest, tsa_certs)
            except TimestampError as exc:
                return fail(f"timestamp token: {exc}")
            started = datetime.fromisoformat(row.started_at)
            if stamp.gen_time < started - CLOCK_SKEW:
                return fail(f"timestamp token: stamped at {stamp.gen_time.isoformat()}, before the scan it stamps "
                            f"started ({row.started_at}): the scan's dates were changed")
            finished = datetime.fromisoformat(row.finished_at or row.started_at)
            if stamp.gen_time > finished + LATE_STAMP:
                chain.late.append(f"{label} was timestamped {stamp.gen_time.isoformat()[:19]}, "
                                  f"{(stamp.gen_time - finished).days} day(s) after it finished (stored later "
                                  "with gapscan store, or stamped again): the timestamp proves only that later date")
            chain.stamped += 1
            chain.stamps_untrusted += 0 if stamp.trusted else 1
        try:
            run = ScanRun.model_validate_json(row.scan_json)
        except ValueError:
            return fail("stored scan.json is not a valid run")
        if run.run_id != row.run_id or run.profile != row.profile or run.scope.model_dump_json() != row.scope_json:
            return fail("run id, profile or scope differ from the digested scan.json")
        expected = {r.fingerprint: result_row(row.id, r) for r in run.results}
        stored = conn.execute(select(results).where(results.c.run_pk == row.id).order_by(results.c.id)).all()
        seen: set[str] = set()
        for res in stored:
            want = expected.get(res.fingerprint)
            got = {k: getattr(res, k) for k in (want or {})}
            if want is None or res.fingerprint in seen or got != want:
                return fail("differs from the digested scan.json", f"result {res.fingerprint} of {label}")
            seen.add(res.fingerprint)
        missing = sorted(set(expected) - seen)
        if missing:
            return fail("is missing from the store", f"result {missing[0]} of {label}")
        previous = row.digest
        prev_head = head
    return chain


def check_chain(client: str, rows: Sequence[Any], *, noun: str, label: Callable[[Any], str],
                  digest: Callable[[Any], str | None], edited: str = "recorded") -> VerifyProblem | None:
    """One append-only chain (decisions, interview answers, sign-offs): no gap in the sequence, every
    row matches the digest recomputed from its fields (None: the row cannot even be read), and every
    row names the previous row's digest."""
    previous: str | None = None
    article = "an" if noun[0] in "aeiou" else "a"
    for expected_seq, row in enumerate(rows, start=1):
        where = label(row)
        if row.seq != expected_seq:
            return VerifyProblem(client, where,
                                 f"out of sequence (expected #{expected_seq}): {article} {noun} was removed")
        if digest(row) != row.digest:
            return VerifyProblem(client, where, f"does not match its digest (edited after it was {edited})")
        if row.prev_digest != previous:
            return VerifyProblem(client, where, f"previous-{noun} digest does not match the chain")
        previous = row.digest
    return None


def check_decisions(client: str, rows: Sequence[Any]) -> VerifyProblem | None:
    return check_chain(client, rows, noun="decision", label=lambda row: f"decision #{row.seq} ({row.subject})",
                       digest=lambda row: decision_digest(
                           client=client, seq=row.seq, subject=row.subject, subject_kind=row.subject_kind,
                           decision=row.decision, decided_by=row.decided_by, note=row.note, until=row.until,
                           decided_at=row.decided_at, prev_digest=row.prev_digest))


@dataclass(frozen=True)
class PeopleRecords:
    """What checking one client's interview-answer and sign-off chains found (issue 18)."""

    answers: int
    signoffs: int
    problems: tuple[VerifyProblem, ...]


def check_people(conn: Connection, client: str, client_pk: int, decision_digests: set[str]) -> PeopleRecords:
    answer_rows = conn.execute(select(interview_answers).where(interview_answers.c.client_id == client_pk)
                               .order_by(interview_answers.c.seq)).all()
    signoff_rows = conn.execute(select(signoffs).where(signoffs.c.client_id == client_pk)
                                .order_by(signoffs.c.seq)).all()
    problems = [p for p in (check_answers(client, answer_rows),
                            check_signoffs(client, signoff_rows, decision_digests)) if p is not None]
    return PeopleRecords(len(answer_rows), len(signoff_rows), tuple(problems))


def check_answers(client: str, rows: Sequence[Any]) -> VerifyProblem | None:
    return check_chain(client, rows, noun="answer",
                         label=lambda row: f"interview answer #{row.seq} ({row.key_activity})",
                         digest=lambda row: answer_digest(
                             client=client, seq=row.seq, key_activity=row.key_activity, answer=row.answer,
                             answered_by=row.answered_by, notes=row.notes, evidence_ref=row.evidence_ref,
                             source=row.source, answered_at=row.answered_at, prev_digest=row.prev_digest))


def _listed_decisions(row: Any) -> list[str] | None:
    try:
        return [str(d) for d in json.loads(row.decision_digests)]
    except (ValueError, TypeError):
        return None


def _signoff_row_digest(client: str, row: Any) -> str | None:
    listed = _listed_decisions(row)
    if listed is None:
        return None
    return signoff_digest(
        client=client, seq=row.seq, run_id=row.run_id, scan_digest=row.scan_digest, signer_name=row.signer_name,
        signer_role=row.signer_role, signature_kind=row.signature_kind,
        signature_png=bytes(row.signature_png) if row.signature_png is not None else None, statement=row.statement,
        sheet=row.sheet_json, decision_digests=listed, signed_at=row.signed_at, prev_digest=row.prev_digest)


def check_signoffs(client: str, rows: Sequence[Any], decision_digests: set[str]) -> VerifyProblem | None:
    def label(row: Any) -> str:
        return f"sign-off #{row.seq} (run {row.run_id})"

    problem = check_chain(client, rows, noun="sign-off", label=label, edited="signed",
                            digest=lambda row: _signoff_row_digest(client, row))
    if problem is not None:
        return problem
    for row in rows:
        missing = [d for d in _listed_decisions(row) or [] if d not in decision_digests]
        if missing:
            return VerifyProblem(client, label(row), f"names decision {missing[0][:16]}…, which the store no longer "
                                                     "holds")
    return None


@dataclass(frozen=True)
class Heads:
    """A client's stored heads: run seq -> (head, run id), decision seq -> digest."""

    runs: Mapping[int, tuple[str, str]]
    decisions: Mapping[int, str]

    def of(self, kind: str) -> Mapping[int, str]:
        if kind == "run":
            return {seq: head for seq, (head, _) in self.runs.items()}
        return self.decisions


def _record(anchor: Anchor, heads: Heads) -> str:
    if anchor.kind == "run" and anchor.seq in heads.runs:
        return f"run {heads.runs[anchor.seq][1]} (#{anchor.seq})"
    return anchor.record()


def check_anchors(client: str, anchors: Iterable[Anchor], heads: Heads) -> tuple[list[VerifyProblem], int]:
    """Every anchor of this client must still be held; the lowest place that is not is reported
    per chain. Returns the problems and how many anchors were held."""
    problems: list[VerifyProblem] = []
    held = 0
    for kind in ("run", "decision"):
        stored = heads.of(kind)
        failed: list[tuple[int, VerifyProblem]] = []
        for anchor in (a for a in anchors if a.kind == kind):
            got = stored.get(anchor.seq)
            if got == anchor.head:
                held += 1
                continue
            if got is None:
                text = (f"recorded in {anchor.source} (head {anchor.head[:16]}…) but not in the store: the history "
                        "was shortened or replaced")
            else:
                text = (f"differs from {anchor.source} (anchored head {anchor.head[:16]}…, the store's "
                        f"{got[:16]}…): rewritten after it was anchored")
            failed.append((anchor.seq, VerifyProblem(client, _record(anchor, heads), text)))
        if failed:
            problems.append(min(failed, key=lambda item: item[0])[1])
    return problems, held


def check_bare_anchors(anchors: Iterable[Anchor], heads: Mapping[str, Heads]) -> tuple[list[VerifyProblem], int]:
    """Heads given without a client (copied from a report): some client must hold each."""
    problems: list[VerifyProblem] = []
    held = 0
    for anchor in anchors:
        holders = [name for name, h in heads.items() if anchor.seq in h.of(anchor.kind)]
        if any(heads[name].of(anchor.kind)[anchor.seq] == anchor.head for name in holders):
            held += 1
            continue
        if len(holders) == 1:
            name = holders[0]
            got = heads[name].of(anchor.kind)[anchor.seq]
            problems.append(VerifyProblem(name, _record(anchor, heads[name]),
                                          f"differs from {anchor.source} (the store's head {got[:16]}…): "
                                          "rewritten after that head was delivered"))
        else:
            where = "no client of this store holds it" if not holders else "no client holds this head there"
            problems.append(VerifyProblem("?", anchor.record(), f"{anchor.source}: {where}: the history was "
                                          "shortened, replaced or rewritten"))
    return problems, held
