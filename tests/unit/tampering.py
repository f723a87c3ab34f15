"""What an insider with write access to the history database tries (issue 21), written once and
run against SQLite (tests/unit/test_tampering.py) and PostgreSQL (tests/test_store_postgres.py).

The history is the MSP's own: signed with the key ``gapscan keys init`` made on this machine (the
private XDG config directory of the test), each stored run and decision anchored in the anchor
log (the private XDG state directory). Each case edits the database behind gapscan's back, as a
knowledgeable insider would (recomputing digests, links and chain heads with gapscan's own
functions where that helps them), and names what ``gapscan verify`` must report: the record, with
exit 4.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from scanner.cli import app
from scanner.history.decisions import DecisionKind
from scanner.history.signing import Signer, default_key_path, init_key
from scanner.history.store import Store, resolve_url
from scanner.models import Status
from tests.unit.test_store import fails, lab_run, variant

cli = CliRunner()
CLIENT = "Demo Dental (lab)"
OTHER = "Other Clinic"
RUN1 = lab_run().run_id


@dataclass
class TamperDb:
    """One signed, anchored history store and the means to edit it behind gapscan's back."""

    url: str
    empty: Callable[[], None]  # the backend's way of wiping the store (truncate the file, drop the schema)
    signer: Signer
    notes: dict[str, Any] = field(default_factory=dict)

    def sql(self, statement: str, **params: Any) -> int:
        engine = create_engine(resolve_url(self.url))
        try:
            with engine.begin() as conn:
                return int(conn.execute(text(statement), params).rowcount or 0)
        finally:
            engine.dispose()

    def rows(self, statement: str, **params: Any) -> list[Any]:
        engine = create_engine(resolve_url(self.url))
        try:
            with engine.begin() as conn:
                return list(conn.execute(text(statement), params).all())
        finally:
            engine.dispose()


def signed_history(url: str, empty: Callable[[], None]) -> TamperDb:
    """Three signed runs and two decisions of CLIENT, one signed run of OTHER."""
    signer = init_key(default_key_path())
    r1 = lab_run()
    with Store.open(url) as store:
        store.store_run(r1, signer=signer)
        store.store_run(variant(r1, "run-2", 7, status={fails(r1)[0]: Status.PASS}), signer=signer)
        store.store_run(variant(r1, "run-3", 14), signer=signer)
        store.store_run(variant(r1, "other-1", 3), client=OTHER, signer=signer)
        store.add_decision(CLIENT, fails(r1)[1], DecisionKind.DECLINED, "Dr. Lee, owner", note="cost")
        store.add_decision(CLIENT, "smb.v1_enabled", DecisionKind.DEFERRED, "Dr. Lee, owner")
    return TamperDb(url=url, empty=empty, signer=signer)


def verify(url: str, *extra: str) -> tuple[int, str]:
    result = cli.invoke(app, ["verify", "--db", url, *extra])
    return result.exit_code, result.output


def anchor_log() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "gapscan" / "anchors.log"


def hide_anchor_log() -> None:
    """The insider also removes this machine's anchor log: only the key (or another anchor) is left."""
    log = anchor_log()
    log.rename(log.with_suffix(".hidden"))


def _client_pk(db: TamperDb, name: str = CLIENT) -> int:
    return int(db.rows("SELECT id FROM clients WHERE name = :n", n=name)[0][0])


def rechain(db: TamperDb, resign: Signer | None = None) -> None:
    """Recompute every run's previous-digest link and chain head (and, with ``resign``, re-sign
    every run with that key), client by client: what an insider who read gapscan's source does."""
    from scanner.history.chain import run_body, run_head

    for (client_pk, name) in db.rows("SELECT id, name FROM clients"):
        prev_digest: str | None = None
        prev_head: str | None = None
        for row in db.rows("SELECT id, seq, run_id, digest, signature, key_fingerprint, timestamp_token "
                           "FROM runs WHERE client_id = :c ORDER BY seq", c=client_pk):
            import base64

            token = base64.b64decode(row.timestamp_token) if row.timestamp_token else None
            body = run_body(client=name, seq=row.seq, run_id=row.run_id, digest=row.digest, prev_head=prev_head,
                            token=token)
            signature, key = row.signature, row.key_fingerprint
            if resign is not None:
                signature, key = resign.sign(body), resign.fingerprint
            head = run_head(body, key, signature)
            db.sql("UPDATE runs SET prev_digest = :p, chain_head = :h, signature = :s, key_fingerprint = :k, "
                   "signature_scheme = :scheme WHERE id = :i", p=prev_digest, h=head, s=signature, k=key,
                   scheme="chain-v1" if signature else None, i=row.id)
            prev_digest, prev_head = row.digest, head


def rewrite_fails_as_passes(db: TamperDb, run_id: str) -> int:
    """Every FAIL of one run becomes a PASS, in scan.json (re-serialized exactly as gapscan writes
    it), its digest and its result rows."""
    import hashlib

    from scanner.models import ScanRun, summarize

    (row,) = db.rows("SELECT id, scan_json FROM runs WHERE run_id = :r", r=run_id)
    run = ScanRun.model_validate_json(row.scan_json)
    results = tuple(r.model_copy(update={"status": Status.PASS}) if r.status is Status.FAIL else r
                    for r in run.results)
    forged_run = run.model_copy(update={"results": results, "summary": summarize(results)})
    forged = forged_run.model_dump_json(indent=2) + "\n"
    db.sql("UPDATE runs SET scan_json = :t, digest = :d WHERE id = :i", t=forged,
           d=hashlib.sha256(forged.encode()).hexdigest(), i=row.id)
    for result in forged_run.results:
        db.sql("UPDATE results SET status = :s, result_json = :j WHERE run_pk = :i AND fingerprint = :f",
               s=result.status.value, j=result.model_dump_json(), i=row.id, f=result.fingerprint)
    return sum(1 for r in run.results if r.status is Status.FAIL)


# -- the cases: each edits the store and returns the texts verify's report must contain ---------


def delete_newest_run(db: TamperDb) -> list[str]:
    db.sql("DELETE FROM results WHERE run_pk = (SELECT id FROM runs WHERE run_id = 'run-3')")
    db.sql("DELETE FROM runs WHERE run_id = 'run-3'")
    return ["run run-3 (#3)", "not in the store"]


def delete_newest_decision(db: TamperDb) -> list[str]:
    db.sql("DELETE FROM decisions WHERE seq = 2 AND client_id = :c", c=_client_pk(db))
    return ["decision #2", "not in the store"]


def delete_everything(db: TamperDb) -> list[str]:
    db.sql("DELETE FROM results")
    db.sql("DELETE FROM runs")
    db.sql("DELETE FROM decisions")
    return [f"{CLIENT!r}: run {RUN1} (#1)", f"{OTHER!r}: run other-1 (#1)", f"{CLIENT!r}: decision #1"]


def empty_the_store(db: TamperDb) -> list[str]:
    db.empty()
    return [f"{CLIENT!r}: run {RUN1} (#1)", "not in the store", f"{OTHER!r}: run other-1 (#1)"]


def strip_signatures(db: TamperDb) -> list[str]:
    db.sql("UPDATE runs SET signature = NULL, key_fingerprint = NULL")
    return [f"run {RUN1} (#1)"]


def rewrite_run_one_and_rechain(db: TamperDb) -> list[str]:
    db.sql("UPDATE runs SET signature = NULL, key_fingerprint = NULL")
    db.notes["flipped"] = rewrite_fails_as_passes(db, RUN1)
    rechain(db)
    return [f"run {RUN1} (#1)", "anchors.log line 1"]


def resign_with_own_key(db: TamperDb) -> list[str]:
    forger = Signer.generate()
    db.sql("INSERT INTO signing_keys (fingerprint, public_key, created_at) VALUES (:f, :p, '2026-01-01T00:00:00')",
           f=forger.fingerprint, p=forger.public_raw.hex())
    db.notes["flipped"] = rewrite_fails_as_passes(db, RUN1)
    rechain(db, resign=forger)
    hide_anchor_log()  # the pinned key alone must catch it
    return [f"run {RUN1} (#1)", f"signed by key {forger.fingerprint}", "not one of the MSP's trusted keys"]


def unsigned_run_after_signed(db: TamperDb) -> list[str]:
    with Store.open(db.url) as store:
        store.store_run(variant(lab_run(), "run-4", 21))
    return ["run run-4 (#4)", "unsigned, though earlier runs"]


CASES: dict[str, Callable[[TamperDb], list[str]]] = {
    "newest run deleted": delete_newest_run,
    "newest decision deleted": delete_newest_decision,
    "every run and decision deleted": delete_everything,
    "store emptied": empty_the_store,
    "signatures stripped": strip_signatures,
    "run 1 rewritten, chain recomputed": rewrite_run_one_and_rechain,
    "own key inserted, chain re-signed": resign_with_own_key,
    "unsigned run after signed ones": unsigned_run_after_signed,
}


def check_case(db: TamperDb, name: str) -> None:
    """The untouched store verifies; after the case, verify exits 4 naming the record."""
    code, output = verify(db.url)
    assert code == 0, output
    expected = CASES[name](db)
    code, output = verify(db.url)
    assert code == 4, f"{name}: exit {code}\n{output}"
    assert "TAMPERED" in output
    for text_ in expected:
        assert text_ in output, f"{name}: {text_!r} not in\n{output}"


def check_store_refused_after_wipe(db: TamperDb, tmp_path: Path) -> None:
    """After the store was emptied, storing the next run is refused (exit 4) and nothing is written:
    the old history does not silently restart at run #1."""
    from scanner.engine.output import write_scan_json

    (tmp_path / "next").mkdir()
    written = write_scan_json(variant(lab_run(), "run-next", 30), tmp_path / "next")
    db.empty()
    result = cli.invoke(app, ["store", str(written), "--client", CLIENT, "--db", db.url])
    assert result.exit_code == 4, result.output
    assert "anchors.log" in result.output and f"run {RUN1} (#1)" in result.output
    with Store.open(db.url) as store:
        assert store.list_runs() == []
