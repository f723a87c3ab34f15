"""History store: clients, runs with every result, findings by fingerprint, client decisions.

SQLite at the XDG data path by default (``$XDG_DATA_HOME/gapscan/gapscan.db``, else
``~/.local/share/gapscan/gapscan.db``); any SQLAlchemy URL otherwise. The schema is migrated with
Alembic (``scanner/history/migrations``) each time the store is opened; a database whose schema is newer
than this gapscan is refused rather than guessed at.

Tamper evidence: each run keeps the SHA-256 of its canonical scan.json (the exact bytes
``scanner.engine.output.write_scan_json`` writes) and the digest of the client's previous run; decisions
are chained the same way. ``verify`` recomputes both chains and compares every stored result with
the digested scan.json. Every write is one transaction. No secrets are stored (scan.json holds none).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from scanner.errors import GapscanError, InputError
from scanner.history.decisions import Decision, DecisionKind, decision_digest
from scanner.history.interviews import (
    INTERVIEW_SUBJECT,
    AnswerInput,
    AnswerKind,
    InterviewAnswer,
    answer_digest,
    current_answers,
    interview_subject,
    open_findings,
)
from scanner.history.schema import clients, decisions, interview_answers, results, runs, signing_keys, signoffs
from scanner.history.signing import Signer, run_message, signature_ok
from scanner.history.signoffs import SheetRow, Signoff, SignoffInput, decision_problem, sheet_json, signoff_digest
from scanner.models import CheckResult, ScanRun, Status, utcnow

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT = 15.0  # seconds a SQLite writer waits for another gapscan's transaction
_WRITE_ATTEMPTS = 5  # a writer that lost a race for the next place in a chain tries again


class StoreError(InputError):
    """The database cannot be used as asked (corrupt, locked, newer schema, unknown run). Exit 2."""


class TamperError(GapscanError):
    """A stored record no longer matches its digest or its chain."""


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/gapscan/gapscan.db``, else ``~/.local/share/gapscan/gapscan.db``."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "gapscan" / "gapscan.db"


def resolve_url(db: str | None) -> str:
    """``--db`` takes a SQLAlchemy URL or a plain file path (SQLite); default: the XDG path."""
    if db is None:
        path = default_db_path()
    elif "://" in db:
        return db
    else:
        path = Path(db).expanduser()
    return f"sqlite:///{path}"


def canonical_text(run: ScanRun) -> str:
    """scan.json exactly as ``write_scan_json`` writes it."""
    return run.model_dump_json(indent=2) + "\n"


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """One stored run, without its results (for listings)."""

    run_id: str
    client: str
    seq: int
    started_at: str
    finished_at: str | None
    stored_at: str
    profile: str
    complete: bool
    digest: str
    prev_digest: str | None
    failed: int
    results: int
    signed_by: str | None = None  # fingerprint of the Ed25519 key that signed the run


@dataclass(frozen=True)
class TimelineEntry:
    """One run's results for one host (``gapscan evidence``); empty when the run did not see it."""

    run_id: str
    seq: int
    started_at: str
    digest: str
    results: tuple[CheckResult, ...]


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
    answers: int = 0  # interview answers
    signoffs: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _translate(exc: SQLAlchemyError, url: str) -> StoreError:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "not a database" in text or "malformed" in text:
        return StoreError(f"the database file is damaged or not a gapscan database ({text})", source=url)
    if "locked" in text:
        return StoreError(f"the database is locked by another gapscan ({text}); try again", source=url)
    return StoreError(f"database error: {text}", source=url)


class Store:
    """The history database. Open with ``Store.open(url)``; use as a context manager."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    # -- opening and migrating -------------------------------------------------------------

    @classmethod
    def open(cls, db: str | None = None) -> Store:
        url = resolve_url(db)
        shown = _safe_url(url)
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"not a database URL or path ({exc})", source="--db") from exc
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database or "")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder ({exc.strerror or exc})",
                                 source=str(path.parent)) from exc
        try:
            connect_args = {"timeout": SQLITE_BUSY_TIMEOUT} if parsed.get_backend_name() == "sqlite" else {}
            engine = create_engine(url, connect_args=connect_args)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise StoreError(f"cannot use this database ({exc})", source=shown) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        store = cls(engine, shown)
        try:
            store._migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def _migrate(self) -> None:
        cfg = self._alembic_config()
        script = ScriptDirectory.from_config(cfg)
        known = {rev.revision for rev in script.walk_revisions()}
        head = script.get_current_head()
        with self._tx() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None and current not in known:
                raise StoreError(
                    f"the database schema is at revision {current!r}, newer than this gapscan "
                    f"understands (it knows up to {head!r}); upgrade gapscan to open it", source=self.url)
            if current != head:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        with self._tx() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One transaction; database errors become a StoreError naming the database."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (GapscanError, IntegrityError):  # IntegrityError: a lost race, retried by _write_with_retry
            raise
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url) from exc

    # -- clients and runs ------------------------------------------------------------------

    def _client_id(self, conn: Connection, name: str, *, create: bool) -> int | None:
        found = conn.execute(select(clients.c.id).where(clients.c.name == name)).scalar()
        if found is not None or not create:
            return found
        return _pk(conn.execute(insert(clients).values(name=name, created_at=utcnow().isoformat())))

    def clients(self) -> list[str]:
        with self._tx() as conn:
            return list(conn.execute(select(clients.c.name).order_by(clients.c.name)).scalars())

    def store_run(self, run: ScanRun, client: str | None = None, signer: Signer | None = None) -> RunInfo:
        """Store a run (scope, profile, canonical scan.json, every result) as the client's next run.

        With a signer, the run id, digest and previous digest are signed with the MSP's Ed25519 key."""
        name = client or run.client
        if not name:
            raise StoreError("a run is stored under a client: give --client", source="--client")
        text = canonical_text(run)
        digest = digest_text(text)

        def write() -> None:
            with self._tx() as conn:
                if conn.execute(select(runs.c.id).where(runs.c.run_id == run.run_id)).first() is not None:
                    raise StoreError(f"run {run.run_id} is already stored", source=self.url)
                client_pk = self._client_id(conn, name, create=True)
                last = conn.execute(select(runs.c.seq, runs.c.digest).where(runs.c.client_id == client_pk)
                                    .order_by(runs.c.seq.desc()).limit(1)).first()
                prev = last.digest if last else None
                signed: dict[str, Any] = {}
                if signer is not None:
                    self._register_key(conn, signer)
                    signed = {"signature": signer.sign(run_message(run.run_id, digest, prev)),
                              "key_fingerprint": signer.fingerprint}
                run_pk = _pk(conn.execute(insert(runs).values(
                    run_id=run.run_id, client_id=client_pk, seq=(last.seq + 1) if last else 1,
                    started_at=run.started_at.isoformat(),
                    finished_at=run.finished_at.isoformat() if run.finished_at else None,
                    stored_at=utcnow().isoformat(), profile=run.profile, complete=int(run.complete),
                    scope_json=run.scope.model_dump_json(), scan_json=text, digest=digest,
                    prev_digest=prev, **signed,
                )))
                if run.results:
                    conn.execute(insert(results), [_result_row(run_pk, r) for r in run.results])

        self._write_with_retry(write, "stored a run")
        return self.run_info(run.run_id)

    def _register_key(self, conn: Connection, signer: Signer) -> None:
        known = conn.execute(select(signing_keys.c.id).where(signing_keys.c.fingerprint == signer.fingerprint))
        if known.first() is None:
            conn.execute(insert(signing_keys).values(fingerprint=signer.fingerprint, public_key=signer.public_raw.hex(),
                                                     created_at=utcnow().isoformat()))

    def _write_with_retry(self, write: Callable[[], None], what: str) -> None:
        """Two writers that read the same chain head collide on (client, seq); the loser tries again."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                write()
                return
            except IntegrityError as exc:
                if attempt + 1 == _WRITE_ATTEMPTS:
                    raise StoreError(f"another gapscan {what} for this client at the same time; nothing was "
                                     "written, run the command again", source=self.url) from exc
                time.sleep(0.05 * (attempt + 1))

    def run_info(self, run_id: str) -> RunInfo:
        found = self.list_runs(run_id=run_id)
        if not found:
            raise StoreError(f"no run {run_id!r} in the store", source=self.url)
        return found[0]

    def list_runs(self, client: str | None = None, *, run_id: str | None = None) -> list[RunInfo]:
        failed = (select(func.count()).where(results.c.run_pk == runs.c.id, results.c.status == Status.FAIL.value)
                  .correlate(runs).scalar_subquery())
        total = select(func.count()).where(results.c.run_pk == runs.c.id).correlate(runs).scalar_subquery()
        query = (select(runs, clients.c.name.label("client_name"), failed.label("failed"), total.label("total"))
                 .join(clients, clients.c.id == runs.c.client_id)
                 .order_by(clients.c.name, runs.c.seq))
        if client is not None:
            query = query.where(clients.c.name == client)
        if run_id is not None:
            query = query.where(runs.c.run_id == run_id)
        with self._tx() as conn:
            if client is not None and self._client_id(conn, client, create=False) is None:
                raise StoreError(f"no client {client!r} in the store", source="--client")
            rows = conn.execute(query).all()
        return [RunInfo(run_id=r.run_id, client=r.client_name, seq=r.seq, started_at=r.started_at,
                        finished_at=r.finished_at, stored_at=r.stored_at, profile=r.profile,
                        complete=bool(r.complete), digest=r.digest, prev_digest=r.prev_digest,
                        failed=int(r.failed), results=int(r.total), signed_by=r.key_fingerprint) for r in rows]

    def load_run(self, run_id: str) -> ScanRun:
        """The stored scan.json, parsed; a damaged record is named, never a traceback."""
        with self._tx() as conn:
            text = conn.execute(select(runs.c.scan_json).where(runs.c.run_id == run_id)).scalar()
        if text is None:
            raise StoreError(f"no run {run_id!r} in the store", source=self.url)
        try:
            return ScanRun.model_validate_json(text)
        except ValueError as exc:
            raise StoreError(f"stored run {run_id} is damaged ({exc.__class__.__name__}); run gapscan verify",
                             source=self.url) from exc

    def scan_text(self, run_id: str) -> str:
        with self._tx() as conn:
            text = conn.execute(select(runs.c.scan_json).where(runs.c.run_id == run_id)).scalar()
        if text is None:
            raise StoreError(f"no run {run_id!r} in the store", source=self.url)
        return str(text)

    def client_runs(self, client: str) -> list[ScanRun]:
        """Every run of a client, oldest first."""
        return [self.load_run(info.run_id) for info in self.list_runs(client)]

    def last_scope(self, client: str) -> tuple[str, dict[str, Any]] | None:
        """Profile and scope of the client's latest run (what ``rescan`` repeats)."""
        infos = self.list_runs(client)
        if not infos:
            return None
        with self._tx() as conn:
            scope = conn.execute(select(runs.c.scope_json).where(runs.c.run_id == infos[-1].run_id)).scalar()
        return infos[-1].profile, json.loads(scope or "{}")

    def host_timeline(self, client: str, host: str, check_id: str | None = None) -> list[TimelineEntry]:
        """One host's results in every run of the client, oldest first (runs without it included)."""
        with self._tx() as conn:
            client_pk = self._client_id(conn, client, create=False)
            if client_pk is None:
                raise StoreError(f"no client {client!r} in the store", source="--client")
            run_rows = conn.execute(select(runs.c.id, runs.c.run_id, runs.c.seq, runs.c.started_at, runs.c.digest)
                                    .where(runs.c.client_id == client_pk).order_by(runs.c.seq)).all()
            query = select(results.c.run_pk, results.c.result_json).where(
                results.c.run_pk.in_([r.id for r in run_rows]), results.c.host == host).order_by(results.c.id)
            if check_id is not None:
                query = query.where(results.c.check_id == check_id)
            found: dict[int, list[CheckResult]] = {}
            for row in conn.execute(query):
                found.setdefault(row.run_pk, []).append(CheckResult.model_validate_json(row.result_json))
        if not found:
            what = f"host {host}" + (f" and check {check_id}" if check_id else "")
            raise StoreError(f"no result for {what} in any run of {client!r}", source="--host")
        return [TimelineEntry(run_id=r.run_id, seq=r.seq, started_at=r.started_at, digest=r.digest,
                              results=tuple(sorted(found.get(r.id, []), key=lambda x: (x.check_id, x.fingerprint))))
                for r in run_rows]

    # -- decisions ------------------------------------------------------------------------

    def add_decision(self, client: str, subject: str, kind: DecisionKind, decided_by: str, *,
                     note: str | None = None, until: date | None = None) -> Decision:
        """Append a decision; a decision for something this client's runs never had is refused."""
        written: list[str] = []

        def write() -> None:
            with self._tx() as conn:
                client_pk = self._client_id(conn, client, create=False)
                if client_pk is None:
                    raise StoreError(f"no client {client!r} in the store (store a run with "
                                     f"gapscan scan --client first)", source="--client")
                of_client = select(runs.c.id).where(runs.c.client_id == client_pk)
                by_fp = conn.execute(select(results.c.id).where(results.c.run_pk.in_(of_client),
                                                                results.c.fingerprint == subject).limit(1)).first()
                by_check = conn.execute(select(results.c.id).where(results.c.run_pk.in_(of_client),
                                                                   results.c.check_id == subject).limit(1)).first()
                asked = (subject.startswith(INTERVIEW_SUBJECT) and subject[len(INTERVIEW_SUBJECT):] in
                         {a.key_activity for a in self._answers_of(conn, client, client_pk)})
                if by_fp is None and by_check is None and not asked:
                    raise StoreError(f"{subject!r} is neither a fingerprint nor a check id of any stored run of "
                                     f"{client!r}", source="FINGERPRINT|CHECK_ID")
                subject_kind = "fingerprint" if by_fp is not None else "check" if by_check is not None else "interview"
                written.append(_append_decision(conn, client, client_pk, subject, subject_kind, kind,
                                                decided_by, note, until))

        self._write_with_retry(write, "recorded a decision")
        return next(d for d in reversed(self.decisions(client)) if d.digest == written[-1])

    def decisions(self, client: str) -> list[Decision]:
        """Every decision of a client, oldest first (nothing is ever edited or deleted)."""
        with self._tx() as conn:
            client_pk = self._client_id(conn, client, create=False)
            if client_pk is None:
                raise StoreError(f"no client {client!r} in the store", source="--client")
            rows = conn.execute(select(decisions).where(decisions.c.client_id == client_pk)
                                .order_by(decisions.c.seq)).all()
        return [_decision(client, row) for row in rows]

    # -- interview answers and sign-offs (issue 18) ------------------------------------------

    def _known_client(self, conn: Connection, client: str) -> int:
        client_pk = self._client_id(conn, client, create=False)
        if client_pk is None:
            raise StoreError(f"no client {client!r} in the store (store a run with gapscan scan --client first)",
                             source="--client")
        return client_pk

    def add_answers(self, client: str, answers: Sequence[AnswerInput], source: str) -> list[InterviewAnswer]:
        """Append interview answers in one transaction; one that repeats the standing answer is skipped."""
        written: list[int] = []

        def write() -> None:
            written.clear()
            with self._tx() as conn:
                client_pk = self._known_client(conn, client)
                earlier = self._answers_of(conn, client, client_pk)
                standing = current_answers(earlier)
                last_seq, last_digest = (earlier[-1].seq, earlier[-1].digest) if earlier else (0, None)
                for item in answers:
                    if item.same_as(standing.get(item.key_activity)):
                        continue
                    fields: dict[str, Any] = {
                        "seq": last_seq + 1, "key_activity": item.key_activity, "answer": item.answer.value,
                        "answered_by": item.answered_by, "notes": item.notes, "evidence_ref": item.evidence_ref,
                        "source": source, "answered_at": utcnow().isoformat(), "prev_digest": last_digest,
                    }
                    last_digest = answer_digest(client=client, **fields)
                    last_seq += 1
                    conn.execute(insert(interview_answers).values(client_id=client_pk, digest=last_digest, **fields))
                    written.append(last_seq)

        self._write_with_retry(write, "recorded interview answers")
        return [a for a in self.interview_answers(client) if a.seq in set(written)]

    def _answers_of(self, conn: Connection, client: str, client_pk: int) -> list[InterviewAnswer]:
        rows = conn.execute(select(interview_answers).where(interview_answers.c.client_id == client_pk)
                            .order_by(interview_answers.c.seq)).all()
        return [_answer(client, r) for r in rows]

    def interview_answers(self, client: str) -> list[InterviewAnswer]:
        """Every interview answer of a client, oldest first (nothing is ever edited or deleted)."""
        with self._tx() as conn:
            return self._answers_of(conn, client, self._known_client(conn, client))

    def record_signoff(self, sheet: SignoffInput, seal: Callable[[Signoff], bytes] | None = None) -> Signoff:
        """Record a signed sheet in one transaction: one decision per finding of each row, then the
        sign-off itself. ``seal`` makes the sealed PDF of the record inside the same transaction, so
        a sign-off never exists without its record (and a failed seal records nothing)."""
        today = utcnow().date()
        for row in sheet.rows:
            problem = decision_problem(row.decision, required=row.required, reason=row.reason, until=row.until,
                                       today=today)
            if problem is not None:
                raise StoreError(f"project {row.project_id}: {problem[0]}: {problem[1]}", source="sign-off")
        done: list[Signoff] = []

        def write() -> None:
            done.clear()
            with self._tx() as conn:
                client_pk = self._known_client(conn, sheet.client)
                run = conn.execute(select(runs.c.id, runs.c.digest).where(
                    runs.c.run_id == sheet.run_id, runs.c.client_id == client_pk)).first()
                if run is None:
                    raise StoreError(f"no run {sheet.run_id!r} of client {sheet.client!r} in the store",
                                     source=self.url)
                if run.digest != sheet.scan_digest:
                    raise StoreError(f"the sheet was made for scan.json {sheet.scan_digest[:16]}…, the stored run "
                                     f"is {run.digest[:16]}…", source="sign-off")
                have = set(conn.execute(select(results.c.fingerprint).where(results.c.run_pk == run.id)).scalars())
                have |= {interview_subject(k) for k in open_findings(self._answers_of(conn, sheet.client, client_pk))}
                digests: list[str] = []
                for row in sheet.rows:
                    for fp in row.fingerprints:
                        if fp not in have:
                            raise StoreError(f"project {row.project_id}: finding {fp} is not in run {sheet.run_id}",
                                             source="sign-off")
                        kind = "interview" if fp.startswith(INTERVIEW_SUBJECT) else "fingerprint"
                        digests.append(_append_decision(conn, sheet.client, client_pk, fp, kind,
                                                        row.decision, sheet.decided_by, row.reason, row.until))
                last = conn.execute(select(signoffs.c.seq, signoffs.c.digest).where(signoffs.c.client_id == client_pk)
                                    .order_by(signoffs.c.seq.desc()).limit(1)).first()
                fields: dict[str, Any] = {
                    "seq": (last.seq + 1) if last else 1, "run_id": sheet.run_id, "scan_digest": sheet.scan_digest,
                    "signer_name": sheet.signer_name, "signer_role": sheet.signer_role,
                    "signature_kind": sheet.signature_kind, "signature_png": sheet.signature_png,
                    "statement": sheet.statement, "signed_at": utcnow().isoformat(),
                    "prev_digest": last.digest if last else None,
                }
                sheet_text = sheet_json(sheet.rows)
                digest = signoff_digest(client=sheet.client, sheet=sheet_text, decision_digests=digests, **fields)
                record = Signoff(client=sheet.client, rows=sheet.rows, decision_digests=tuple(digests), digest=digest,
                                 **fields)
                pdf = seal(record) if seal is not None else None
                conn.execute(insert(signoffs).values(client_id=client_pk, sheet_json=sheet_text,
                                                     decision_digests=json.dumps(digests), digest=digest,
                                                     record_pdf=pdf, **fields))
                done.append(replace(record, record_pdf=pdf))

        self._write_with_retry(write, "recorded a sign-off")
        return done[-1]

    def signoffs(self, client: str, run_id: str | None = None) -> list[Signoff]:
        """A client's sign-offs (of one run), oldest first; the last one of a run stands."""
        with self._tx() as conn:
            client_pk = self._known_client(conn, client)
            query = select(signoffs).where(signoffs.c.client_id == client_pk).order_by(signoffs.c.seq)
            if run_id is not None:
                query = query.where(signoffs.c.run_id == run_id)
            rows = conn.execute(query).all()
        return [_signoff(client, r) for r in rows]

    # -- verification -----------------------------------------------------------------------

    def verify(self, client: str | None = None) -> VerifyReport:
        """Recompute the run and decision chains; the first mismatch of each client is reported."""
        names = [client] if client is not None else self.clients()
        problems: list[VerifyProblem] = []
        n_runs = n_decisions = n_answers = n_signoffs = 0
        with self._tx() as conn:
            keys = {k.fingerprint: k.public_key for k in conn.execute(select(signing_keys))}
            for name in names:
                client_pk = self._client_id(conn, name, create=False)
                if client_pk is None:
                    raise StoreError(f"no client {name!r} in the store", source="--client")
                run_rows = conn.execute(select(runs).where(runs.c.client_id == client_pk)
                                        .order_by(runs.c.seq)).all()
                n_runs += len(run_rows)
                problem = _verify_runs(conn, name, run_rows, keys)
                if problem:
                    problems.append(problem)
                dec_rows = conn.execute(select(decisions).where(decisions.c.client_id == client_pk)
                                        .order_by(decisions.c.seq)).all()
                n_decisions += len(dec_rows)
                problem = _verify_decisions(name, dec_rows)
                if problem:
                    problems.append(problem)
                extra = _verify_people_records(conn, name, client_pk, {r.digest for r in dec_rows})
                n_answers += extra[0]
                n_signoffs += extra[1]
                problems.extend(extra[2])
        return VerifyReport(clients=len(names), runs=n_runs, decisions=n_decisions, problems=tuple(problems),
                            answers=n_answers, signoffs=n_signoffs)


def _append_decision(conn: Connection, client: str, client_pk: int, subject: str, subject_kind: str,
                     kind: DecisionKind, decided_by: str, note: str | None, until: date | None) -> str:
    """Append one decision to the client's chain (inside the caller's transaction); returns its digest."""
    last = conn.execute(select(decisions.c.seq, decisions.c.digest).where(decisions.c.client_id == client_pk)
                        .order_by(decisions.c.seq.desc()).limit(1)).first()
    fields: dict[str, Any] = {
        "seq": (last.seq + 1) if last else 1, "subject": subject, "subject_kind": subject_kind,
        "decision": kind.value, "decided_by": decided_by, "note": note,
        "until": until.isoformat() if until else None, "decided_at": utcnow().isoformat(),
        "prev_digest": last.digest if last else None,
    }
    digest = decision_digest(client=client, **fields)
    conn.execute(insert(decisions).values(client_id=client_pk, digest=digest, **fields))
    return digest


def _safe_url(url: str) -> str:
    """Never echo a password from a URL into a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "--db"


def _sqlite_begin_immediate(conn: Connection) -> None:
    """Take SQLite's write lock at BEGIN: a second writer waits (busy timeout) instead of failing
    midway, and two writers can never read the same chain head."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _pk(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer primary key
        raise StoreError("the database did not return the new row's key")
    return int(key[0])


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin_immediate
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _result_row(run_pk: int, r: Any) -> dict[str, Any]:
    return {
        "run_pk": run_pk, "fingerprint": r.fingerprint, "check_id": r.check_id, "status": r.status.value,
        "severity": r.severity.value, "host": r.target.host, "port": r.target.port, "domain": r.target.domain,
        "result_json": r.model_dump_json(),
    }


def _decision(client: str, row: Any) -> Decision:
    return Decision(
        client=client, seq=row.seq, subject=row.subject, subject_kind=row.subject_kind,
        decision=DecisionKind(row.decision), decided_by=row.decided_by, note=row.note,
        until=date.fromisoformat(row.until) if row.until else None, decided_at=row.decided_at,
        digest=row.digest, prev_digest=row.prev_digest,
    )


def _answer(client: str, row: Any) -> InterviewAnswer:
    return InterviewAnswer(client=client, seq=row.seq, key_activity=row.key_activity, answer=AnswerKind(row.answer),
                           answered_by=row.answered_by, notes=row.notes, evidence_ref=row.evidence_ref,
                           source=row.source, answered_at=row.answered_at, digest=row.digest,
                           prev_digest=row.prev_digest)


def _signoff(client: str, row: Any) -> Signoff:
    return Signoff(client=client, seq=row.seq, run_id=row.run_id, scan_digest=row.scan_digest,
                   signer_name=row.signer_name, signer_role=row.signer_role, signature_kind=row.signature_kind,
                   signature_png=bytes(row.signature_png) if row.signature_png is not None else None,
                   statement=row.statement, rows=tuple(SheetRow.from_dict(r) for r in json.loads(row.sheet_json)),
                   decision_digests=tuple(json.loads(row.decision_digests)), signed_at=row.signed_at,
                   digest=row.digest, prev_digest=row.prev_digest,
                   record_pdf=bytes(row.record_pdf) if row.record_pdf is not None else None)


def _verify_runs(conn: Connection, client: str, rows: Sequence[Any], keys: dict[str, str]) -> VerifyProblem | None:
    previous: str | None = None
    was_signed = False
    for expected_seq, row in enumerate(rows, start=1):
        label = f"run {row.run_id} (#{row.seq})"
        if row.seq != expected_seq:
            return VerifyProblem(client, label, f"out of sequence (expected #{expected_seq}): a run was removed")
        if digest_text(row.scan_json) != row.digest:
            return VerifyProblem(client, label, "stored scan.json does not match its SHA-256 digest")
        if row.prev_digest != previous:
            return VerifyProblem(client, label, "previous-run digest does not match the chain")
        if row.signature is not None:
            public = keys.get(row.key_fingerprint or "")
            if public is None:
                return VerifyProblem(client, label,
                                     f"signed by key {row.key_fingerprint}, which the store does not hold")
            if not signature_ok(public, row.signature, run_message(row.run_id, row.digest, row.prev_digest)):
                return VerifyProblem(client, label, f"Ed25519 signature (key {row.key_fingerprint}) does not verify")
            was_signed = True
        elif was_signed:
            return VerifyProblem(client, label, "unsigned, though earlier runs of the client were signed")
        try:
            run = ScanRun.model_validate_json(row.scan_json)
        except ValueError:
            return VerifyProblem(client, label, "stored scan.json is not a valid run")
        if run.run_id != row.run_id or run.profile != row.profile or run.scope.model_dump_json() != row.scope_json:
            return VerifyProblem(client, label, "run id, profile or scope differ from the digested scan.json")
        expected = {r.fingerprint: _result_row(row.id, r) for r in run.results}
        stored = conn.execute(select(results).where(results.c.run_pk == row.id).order_by(results.c.id)).all()
        seen: set[str] = set()
        for res in stored:
            want = expected.get(res.fingerprint)
            got = {k: getattr(res, k) for k in (want or {})}
            if want is None or res.fingerprint in seen or got != want:
                return VerifyProblem(client, f"result {res.fingerprint} of {label}",
                                     "differs from the digested scan.json")
            seen.add(res.fingerprint)
        missing = sorted(set(expected) - seen)
        if missing:
            return VerifyProblem(client, f"result {missing[0]} of {label}", "is missing from the store")
        previous = row.digest
    return None


def _verify_chain(client: str, rows: Sequence[Any], *, noun: str, label: Callable[[Any], str],
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


def _verify_decisions(client: str, rows: Sequence[Any]) -> VerifyProblem | None:
    return _verify_chain(client, rows, noun="decision", label=lambda row: f"decision #{row.seq} ({row.subject})",
                         digest=lambda row: decision_digest(
                             client=client, seq=row.seq, subject=row.subject, subject_kind=row.subject_kind,
                             decision=row.decision, decided_by=row.decided_by, note=row.note, until=row.until,
                             decided_at=row.decided_at, prev_digest=row.prev_digest))


def _verify_people_records(conn: Connection, client: str, client_pk: int,
                           decision_digests: set[str]) -> tuple[int, int, list[VerifyProblem]]:
    """The interview-answer and sign-off chains of one client: counts and the first problem of each."""
    answer_rows = conn.execute(select(interview_answers).where(interview_answers.c.client_id == client_pk)
                               .order_by(interview_answers.c.seq)).all()
    signoff_rows = conn.execute(select(signoffs).where(signoffs.c.client_id == client_pk)
                                .order_by(signoffs.c.seq)).all()
    problems = [p for p in (_verify_answers(client, answer_rows),
                            _verify_signoffs(client, signoff_rows, decision_digests)) if p is not None]
    return len(answer_rows), len(signoff_rows), problems


def _verify_answers(client: str, rows: Sequence[Any]) -> VerifyProblem | None:
    return _verify_chain(client, rows, noun="answer",
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


def _verify_signoffs(client: str, rows: Sequence[Any], decision_digests: set[str]) -> VerifyProblem | None:
    def label(row: Any) -> str:
        return f"sign-off #{row.seq} (run {row.run_id})"

    problem = _verify_chain(client, rows, noun="sign-off", label=label, edited="signed",
                            digest=lambda row: _signoff_row_digest(client, row))
    if problem is not None:
        return problem
    for row in rows:
        missing = [d for d in _listed_decisions(row) or [] if d not in decision_digests]
        if missing:
            return VerifyProblem(client, label(row), f"names decision {missing[0][:16]}…, which the store no longer "
                                                     "holds")
    return None
