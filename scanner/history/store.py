"""History store: clients, runs with every result, findings by fingerprint, client decisions.

SQLite at the XDG data path by default (``$XDG_DATA_HOME/gapscan/gapscan.db``, else
``~/.local/share/gapscan/gapscan.db``); any SQLAlchemy URL otherwise. The schema is migrated with
Alembic (``scanner/history/migrations``) each time the store is opened; a database whose schema is newer
than this gapscan is refused rather than guessed at.

Tamper evidence: each run keeps the SHA-256 of its canonical scan.json (the exact bytes
``scanner.engine.output.write_scan_json`` writes), the digest of the client's previous run and its
chain head (``scanner.history.chain``), optionally signed with the MSP's key and timestamped by an
RFC 3161 authority; decisions are chained the same way. Every stored run and decision appends its
head to the anchor log outside the database (``scanner.history.anchors``), and a store that no
longer holds an anchored head is refused for writing. ``verify`` (``scanner.history.verify``)
recomputes both chains, trusts only keys known from outside the store, and checks every anchor.
Every write is one transaction. No secrets are stored (scan.json holds none).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from scanner.errors import GapscanError, InputError, TamperError
from scanner.history.anchors import Anchor, AnchorLog
from scanner.history.chain import digest_text, run_body, run_head
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
from scanner.history.rows import result_row as _result_row
from scanner.history.schema import (
    clients,
    decisions,
    interview_answers,
    key_rotations,
    results,
    runs,
    signing_keys,
    signoffs,
)
from scanner.history.signing import SCHEME_CHAIN_V1, Signer, rotation_message
from scanner.history.signoffs import SheetRow, Signoff, SignoffInput, decision_problem, sheet_json, signoff_digest
from scanner.history.trust import Rotation, TrustRoots, resolve
from scanner.history.verify import (
    Heads,
    VerifyProblem,
    VerifyReport,
    check_anchors,
    check_bare_anchors,
    check_decisions,
    check_people,
    check_runs,
)
from scanner.models import CheckResult, ScanRun, Status, utcnow

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT = 15.0  # seconds a SQLite writer waits for another gapscan's transaction
_WRITE_ATTEMPTS = 5  # a writer that lost a race for the next place in a chain tries again


class StoreError(InputError):
    """The database cannot be used as asked (corrupt, locked, newer schema, unknown run). Exit 2."""


class RunAlreadyStored(StoreError):
    """A run with this run id is in the store already (a fleet bundle delivered twice)."""


__all__ = ["RunAlreadyStored", "RunInfo", "Store", "StoreError",
           "TamperError", "TimelineEntry", "VerifyProblem", "VerifyReport",
           "canonical_text", "default_db_path", "digest_text", "resolve_url"]

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
    chain_head: str = ""
    timestamped: bool = False

    def anchor(self) -> Anchor:
        return Anchor(kind="run", seq=self.seq, head=self.chain_head, client=self.client, run_id=self.run_id,
                      key=self.signed_by)


@dataclass(frozen=True)
class TimelineEntry:
    """One run's results for one host (``gapscan evidence``); empty when the run did not see it."""

    run_id: str
    seq: int
    started_at: str
    digest: str
    results: tuple[CheckResult, ...]


def _translate(exc: SQLAlchemyError, url: str) -> StoreError:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "not a database" in text or "malformed" in text:
        return StoreError(f"the database file is damaged or not a gapscan database ({text})", source=url)
    if "locked" in text:
        return StoreError(f"the database is locked by another gapscan ({text}); try again", source=url)
    if "readonly" in text or "read-only" in text or "permission denied" in text.lower():
        return StoreError(f"the database is read-only for gapscan ({text}): nothing can be stored in it",
                          source=url)
    return StoreError(f"database error: {text}", source=url)


class Store:
    """The history database. Open with ``Store.open(url)``; use as a context manager.

    ``anchors``: the anchor log that every stored run and decision appends its head to, and that
    writes and ``verify`` check the store against (the machine's own log by default; ``None`` for
    a store that is only a copy, such as an evidence pack's)."""

    def __init__(self, engine: Engine, url: str, label: str, anchors: AnchorLog | None) -> None:
        self.engine = engine
        self.url = url
        self.label = label  # how anchors name this store
        self.anchors = anchors

    # -- opening and migrating -------------------------------------------------------------

    @classmethod
    def open(cls, db: str | None = None, *, anchors: AnchorLog | Literal["default"] | None = "default") -> Store:
        url = resolve_url(db)
        shown = _safe_url(url)
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"not a database URL or path ({exc})", source="--db") from exc
        label = shown
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database or "")
            # The same file opened as a URI (file:PATH?mode=ro&uri=true) is the same store for anchors.
            named = str(path)[len("file:"):] if parsed.query.get("uri") and str(path).startswith("file:") else path
            label = f"sqlite:///{Path(named).expanduser().absolute()}"
            if not parsed.query.get("mode"):
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
        store = cls(engine, shown, label, AnchorLog.default() if anchors == "default" else anchors)
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

    def preflight(self, client: str) -> None:
        """Before a scan's first packet: the store can take this client's next run. It is not
        damaged, not locked, writable by us, still holds every head the anchor log recorded for
        the client, and the anchor log can be appended to. Nothing is written."""
        try:
            with self.engine.connect() as conn:
                trans = conn.begin()  # BEGIN IMMEDIATE on SQLite: waits for, or reports, another writer
                try:
                    if self.engine.dialect.name == "sqlite":
                        verdict = conn.exec_driver_sql("PRAGMA quick_check").scalar()
                        if verdict != "ok":
                            raise StoreError(f"the database file is damaged (SQLite quick_check: {verdict})",
                                             source=self.url)
                    # A row that is never committed proves INSERT works for us (permissions, read-only
                    # file or transaction, full disk) without changing anything.
                    conn.execute(insert(clients).values(name=" gapscan preflight, never committed", created_at="-"))
                    self._check_anchored(conn, client)
                finally:
                    trans.rollback()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url) from exc
        if self.anchors is not None:
            self.anchors.check_writable()

    # -- anchors ----------------------------------------------------------------------------

    def local_anchors(self) -> tuple[list[Anchor], tuple[str, ...]]:
        """This store's anchors in the anchor log, and what is wrong with the log itself."""
        if self.anchors is None:
            return [], ()
        read = self.anchors.read()
        return [a for a in read.anchors if a.store == self.label], read.problems

    def _heads(self, conn: Connection, client_pk: int | None) -> Heads:
        if client_pk is None:
            return Heads(runs={}, decisions={})
        run_heads = {r.seq: (r.chain_head, r.run_id) for r in conn.execute(
            select(runs.c.seq, runs.c.chain_head, runs.c.run_id).where(runs.c.client_id == client_pk))}
        dec_heads = {r.seq: r.digest for r in conn.execute(
            select(decisions.c.seq, decisions.c.digest).where(decisions.c.client_id == client_pk))}
        return Heads(runs=run_heads, decisions=dec_heads)

    def _check_anchored(self, conn: Connection, client: str) -> None:
        """Refuse to write for a client whose anchored history the store no longer holds."""
        anchored = [a for a in self.local_anchors()[0] if a.client == client]
        if not anchored:
            return
        heads = self._heads(conn, self._client_id(conn, client, create=False))
        problems, _ = check_anchors(client, anchored, heads)
        if problems:
            raise TamperError(f"{problems[0]}. Nothing was stored: the store no longer holds the history this "
                              f"machine anchored ({self.url}); run gapscan verify")

    def _anchor(self, *, client: str, kind: str, seq: int, head: str, run_id: str | None = None,
                key: str | None = None) -> None:
        if self.anchors is not None:
            try:
                self.anchors.append(store=self.label, client=client, kind=kind, seq=seq, head=head, run_id=run_id,
                                    key=key)
            except InputError as exc:
                raise StoreError(f"{kind} #{seq} of {client!r} is stored, but its anchor could not be written: "
                                 f"{exc}", source=self.url) from exc

    def client_heads(self, client: str) -> tuple[Anchor | None, Anchor | None]:
        """The client's newest run head and newest decision head (what a report is made from)."""
        with self._tx() as conn:
            client_pk = self._client_id(conn, client, create=False)
            if client_pk is None:
                return None, None
            run = conn.execute(select(runs.c.seq, runs.c.chain_head, runs.c.run_id, runs.c.key_fingerprint)
                               .where(runs.c.client_id == client_pk).order_by(runs.c.seq.desc()).limit(1)).first()
            dec = conn.execute(select(decisions.c.seq, decisions.c.digest).where(decisions.c.client_id == client_pk)
                               .order_by(decisions.c.seq.desc()).limit(1)).first()
        return (Anchor(kind="run", seq=run.seq, head=run.chain_head, client=client, run_id=run.run_id,
                       key=run.key_fingerprint) if run else None,
                Anchor(kind="decision", seq=dec.seq, head=dec.digest, client=client) if dec else None)

    # -- clients and runs ------------------------------------------------------------------

    def _client_id(self, conn: Connection, name: str, *, create: bool) -> int | None:
        found = conn.execute(select(clients.c.id).where(clients.c.name == name)).scalar()
        if found is not None or not create:
            return found
        return _pk(conn.execute(insert(clients).values(name=name, created_at=utcnow().isoformat())))

    def clients(self) -> list[str]:
        with self._tx() as conn:
            return list(conn.execute(select(clients.c.name).order_by(clients.c.name)).scalars())

    def store_run(self, run: ScanRun, client: str | None = None, signer: Signer | None = None,
                  stamper: Callable[[str], bytes | None] | None = None,
                  also: Callable[[Connection], None] | None = None) -> RunInfo:
        """Store a run (scope, profile, canonical scan.json, every result) as the client's next run.

        With a signer, the run's chain body is signed with the MSP's Ed25519 key; with a stamper,
        the scan.json digest is timestamped (RFC 3161) before the transaction and the reply kept.
        ``also`` runs inside the same transaction (the fleet marks its job stored with it)."""
        name = client or run.client
        if not name:
            raise StoreError("a run is stored under a client: give --client", source="--client")
        text = canonical_text(run)
        digest = digest_text(text)
        token = stamper(digest) if stamper is not None else None
        written: dict[str, Any] = {}

        def write() -> None:
            with self._tx() as conn:
                if conn.execute(select(runs.c.id).where(runs.c.run_id == run.run_id)).first() is not None:
                    raise RunAlreadyStored(f"run {run.run_id} is already stored", source=self.url)
                self._check_anchored(conn, name)
                client_pk = self._client_id(conn, name, create=True)
                last = conn.execute(select(runs.c.seq, runs.c.digest, runs.c.chain_head)
                                    .where(runs.c.client_id == client_pk)
                                    .order_by(runs.c.seq.desc()).limit(1)).first()
                seq = (last.seq + 1) if last else 1
                body = run_body(client=name, seq=seq, run_id=run.run_id, digest=digest,
                                prev_head=last.chain_head if last else None, token=token)
                signed: dict[str, Any] = {}
                if signer is not None:
                    self._register_key(conn, signer)
                    signed = {"signature": signer.sign(body), "key_fingerprint": signer.fingerprint,
                              "signature_scheme": SCHEME_CHAIN_V1}
                head = run_head(body, signed.get("key_fingerprint"), signed.get("signature"))
                run_pk = _pk(conn.execute(insert(runs).values(
                    run_id=run.run_id, client_id=client_pk, seq=seq,
                    started_at=run.started_at.isoformat(),
                    finished_at=run.finished_at.isoformat() if run.finished_at else None,
                    stored_at=utcnow().isoformat(), profile=run.profile, complete=int(run.complete),
                    scope_json=run.scope.model_dump_json(), scan_json=text, digest=digest,
                    prev_digest=last.digest if last else None, chain_head=head,
                    timestamp_token=base64.b64encode(token).decode("ascii") if token else None, **signed,
                )))
                if run.results:
                    conn.execute(insert(results), [_result_row(run_pk, r) for r in run.results])
                if also is not None:
                    also(conn)
                written.update(seq=seq, head=head, key=signed.get("key_fingerprint"))

        self._write_with_retry(write, "stored a run")
        self._anchor(client=name, kind="run", seq=written["seq"], head=written["head"], run_id=run.run_id,
                     key=written["key"])
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
                        failed=int(r.failed), results=int(r.total), signed_by=r.key_fingerprint,
                        chain_head=r.chain_head, timestamped=r.timestamp_token is not None) for r in rows]

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
        seqs: list[int] = []

        def write() -> None:
            with self._tx() as conn:
                self._check_anchored(conn, client)
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
                seq, digest = _append_decision(conn, client, client_pk, subject, subject_kind, kind, decided_by,
                                               note, until)
                written.append(digest)
                seqs.append(seq)

        self._write_with_retry(write, "recorded a decision")
        self._anchor(client=client, kind="decision", seq=seqs[-1], head=written[-1])
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
                self._check_anchored(conn, client)
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
        decision_head: list[Any] = []  # (seq, digest) of the last decision written: the chain's new head

        def write() -> None:
            done.clear()
            with self._tx() as conn:
                self._check_anchored(conn, sheet.client)
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
                seq = 0
                for row in sheet.rows:
                    for fp in row.fingerprints:
                        if fp not in have:
                            raise StoreError(f"project {row.project_id}: finding {fp} is not in run {sheet.run_id}",
                                             source="sign-off")
                        kind = "interview" if fp.startswith(INTERVIEW_SUBJECT) else "fingerprint"
                        seq, digest = _append_decision(conn, sheet.client, client_pk, fp, kind, row.decision,
                                                       sheet.decided_by, row.reason, row.until)
                        digests.append(digest)
                decision_head.clear()
                if digests:
                    decision_head.extend([seq, digests[-1]])
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
        if decision_head:  # the decision chain moved: its head goes to the anchor log (issue 21)
            self._anchor(client=sheet.client, kind="decision", seq=decision_head[0], head=decision_head[1])
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

    # -- keys -------------------------------------------------------------------------------

    def record_rotation(self, old: Signer, new: Signer) -> Rotation:
        """Record that the MSP's key ``old`` hands over to ``new`` (both sign the record)."""
        rotated_at = utcnow().isoformat()
        message = rotation_message(old.public_raw.hex(), new.public_raw.hex(), rotated_at)
        rotation = Rotation(old_public=old.public_raw.hex(), new_public=new.public_raw.hex(), rotated_at=rotated_at,
                            old_signature=old.sign(message), new_signature=new.sign(message))
        with self._tx() as conn:
            self._register_key(conn, old)
            self._register_key(conn, new)
            conn.execute(insert(key_rotations).values(
                old_fingerprint=old.fingerprint, old_public_key=rotation.old_public, new_fingerprint=new.fingerprint,
                new_public_key=rotation.new_public, rotated_at=rotated_at, old_signature=rotation.old_signature,
                new_signature=rotation.new_signature))
        return rotation

    def rotations(self) -> list[Rotation]:
        with self._tx() as conn:
            rows = conn.execute(select(key_rotations).order_by(key_rotations.c.id)).all()
        return [Rotation(old_public=r.old_public_key, new_public=r.new_public_key, rotated_at=r.rotated_at,
                         old_signature=r.old_signature, new_signature=r.new_signature) for r in rows]

    def stored_keys(self) -> dict[str, str]:
        """Public keys the database holds (fingerprint -> hex): never trusted for being there."""
        with self._tx() as conn:
            return {k.fingerprint: k.public_key for k in conn.execute(select(signing_keys))}

    # -- verification -----------------------------------------------------------------------

    def verify(self, client: str | None = None, *, trust: TrustRoots | None = None,
               anchors: Sequence[Anchor] = (), anchor_problems: Sequence[str] = (),
               tsa_certs: list[Any] | None = None) -> VerifyReport:
        """Recompute the run and decision chains of every client (or one), check signatures with
        trusted keys only, timestamp tokens, and every anchor: this store's lines of the anchor
        log and those given (``anchors``; a head without a client may belong to any client)."""
        roots = trust or TrustRoots()
        resolved = resolve(roots, self.stored_keys(), self.rotations())
        local, log_problems = self.local_anchors()
        every = [*local, *anchors]
        names = self.clients()
        if client is not None:
            if client not in names and not any(a.client == client for a in every):
                raise StoreError(f"no client {client!r} in the store", source="--client")
            names = [client]
        else:
            names = sorted(set(names) | {a.client for a in every if a.client is not None})
        problems: list[VerifyProblem] = []
        notes: list[str] = []
        n_runs = n_decisions = signed = stamped = untrusted = held = n_answers = n_signoffs = 0
        all_heads: dict[str, Heads] = {}
        with self._tx() as conn:
            for name in names:
                client_pk = self._client_id(conn, name, create=False)
                run_rows = [] if client_pk is None else conn.execute(
                    select(runs).where(runs.c.client_id == client_pk).order_by(runs.c.seq)).all()
                n_runs += len(run_rows)
                chain = check_runs(conn, name, run_rows, resolved, roots.describe(), tsa_certs)
                if chain.problem:
                    problems.append(chain.problem)
                notes += chain.late
                signed, stamped, untrusted = signed + chain.signed, stamped + chain.stamped, \
                    untrusted + chain.stamps_untrusted
                dec_rows = [] if client_pk is None else conn.execute(
                    select(decisions).where(decisions.c.client_id == client_pk).order_by(decisions.c.seq)).all()
                n_decisions += len(dec_rows)
                problem = check_decisions(name, dec_rows)
                if problem:
                    problems.append(problem)
                if client_pk is not None:
                    people = check_people(conn, name, client_pk, {r.digest for r in dec_rows})
                    n_answers, n_signoffs = n_answers + people.answers, n_signoffs + people.signoffs
                    problems += people.problems
                heads = Heads(runs=chain.heads, decisions={r.seq: r.digest for r in dec_rows})
                all_heads[name] = heads
                found, count = check_anchors(name, [a for a in every if a.client == name], heads)
                problems += found
                held += count
        bare = [a for a in anchors if a.client is None]
        found, count = check_bare_anchors(bare, all_heads)
        problems += found
        held += count
        if untrusted:
            notes.append(f"{untrusted} timestamp token(s) were checked against the certificate inside each token "
                         "only: give --tsa-ca (or timestamp_authority.ca_file) to check who issued them")
        return VerifyReport(clients=len(names), runs=n_runs, decisions=n_decisions, problems=tuple(problems),
                            other_problems=(*log_problems, *anchor_problems, *resolved.problems),
                            notes=tuple(notes), signed=signed, stamped=stamped, anchors=held, answers=n_answers,
                            signoffs=n_signoffs)


def _append_decision(conn: Connection, client: str, client_pk: int, subject: str, subject_kind: str,
                     kind: DecisionKind, decided_by: str, note: str | None, until: date | None) -> tuple[int, str]:
    """Append one decision to the client's chain (inside the caller's transaction): its (seq, digest)."""
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
    return int(fields["seq"]), digest


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
