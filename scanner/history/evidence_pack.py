"""The evidence pack: what an investigator needs to check one device's history on their own
machine, without trusting the MSP's database (``gapscan evidence --export DIR``).

For every run of the client: the stored scan.json byte for byte (its SHA-256 in SHA256SUMS), the
device's results extracted from it, the signed chain body and the raw Ed25519 signature, and the
RFC 3161 reply; the public keys that signed (with fingerprints), the TSA's CA certificate when one
is configured, the client's anchors from this machine's anchor log, the client's decisions, and
``history.db``: a copy of the client's history that ``gapscan verify`` checks against the keys and
anchors the investigator trusts. README.md gives the exact commands (``sha256sum``, ``openssl``,
``gapscan verify``). Every file is private (0600) in a private folder (0700); an existing,
non-empty folder is never written into.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from scanner.errors import InputError
from scanner.history.chain import run_body
from scanner.history.schema import clients, decisions, key_rotations, results, runs, signing_keys
from scanner.history.signing import SCHEME_CHAIN_V1, key_fingerprint, public_pem, run_message
from scanner.history.store import Store
from scanner.models import utcnow


@dataclass(frozen=True)
class PackSummary:
    directory: Path
    runs: int
    runs_with_host: int
    fingerprints: tuple[str, ...]
    timestamps: int
    anchors: int


def _private_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError("exists and is not an empty folder; the pack is never written over anything",
                         source=str(path))
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
    except OSError as exc:
        raise InputError(f"cannot create the pack folder ({exc.strerror or exc})", source=str(path)) from exc


def _write(path: Path, data: bytes | str) -> Path:
    if not path.parent.is_dir():  # intermediate folders too: mkdir(parents=True) ignores the mode for them
        _write_dir(path.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    return path


def _write_dir(path: Path) -> None:
    if not path.parent.is_dir():
        _write_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)


def _copy_history(store: Store, client: str, target: Path) -> None:
    """The client's rows, verbatim, into a fresh store (no anchoring: it is a copy)."""
    with Store.open(f"sqlite:///{target}", anchors=None) as pack, store.engine.begin() as src, \
            pack.engine.begin() as dst:
        row = src.execute(select(clients).where(clients.c.name == client)).one()
        client_pk = dst.execute(insert(clients).values(name=row.name, created_at=row.created_at)).inserted_primary_key
        new_client = int(client_pk[0]) if client_pk else 0
        for run in src.execute(select(runs).where(runs.c.client_id == row.id).order_by(runs.c.seq)).all():
            values = {k: v for k, v in run._mapping.items() if k not in ("id", "client_id")}
            key = dst.execute(insert(runs).values(client_id=new_client, **values)).inserted_primary_key
            rows = [{k: v for k, v in r._mapping.items() if k not in ("id", "run_pk")}
                    for r in src.execute(select(results).where(results.c.run_pk == run.id).order_by(results.c.id))]
            if rows:
                dst.execute(insert(results), [{"run_pk": int(key[0]) if key else 0, **r} for r in rows])
        for dec in src.execute(select(decisions).where(decisions.c.client_id == row.id).order_by(decisions.c.seq)):
            dst.execute(insert(decisions).values(client_id=new_client, **{
                k: v for k, v in dec._mapping.items() if k not in ("id", "client_id")}))
        for table in (signing_keys, key_rotations):
            for item in src.execute(select(table).order_by(table.c.id)):
                dst.execute(insert(table).values(**{k: v for k, v in item._mapping.items() if k != "id"}))


def export_pack(store: Store, client: str, host: str, directory: Path, *, tsa_ca: Path | None = None,
                tool_version: str = "") -> PackSummary:
    """Write the pack of ``host`` of ``client`` into ``directory`` (new or empty)."""
    timeline = store.host_timeline(client, host)  # a host never seen is a clear error
    _private_dir(directory)
    with store.engine.begin() as conn:
        client_pk = conn.execute(select(clients.c.id).where(clients.c.name == client)).scalar()
        run_rows = conn.execute(select(runs).where(runs.c.client_id == client_pk).order_by(runs.c.seq)).all()
        stored_keys = {k.fingerprint: k.public_key for k in conn.execute(select(signing_keys))}
    by_run = {entry.run_id: entry for entry in timeline}
    sums: list[str] = []
    chain: list[dict[str, Any]] = []
    used_keys: dict[str, str] = {}
    prev_head: str | None = None
    stamps = 0
    for row in run_rows:
        stem = f"{row.seq:04d}"
        folder = f"runs/{stem}-{row.run_id}"
        _write(directory / folder / "scan.json", row.scan_json)
        sums.append(f"{row.digest}  {folder}/scan.json")
        entry = by_run.get(row.run_id)
        found = [r.model_dump(mode="json") for r in (entry.results if entry else ())]
        _write(directory / folder / f"host-{_safe(host)}.json", json.dumps(
            {"host": host, "seen": bool(found), "results": found}, indent=2, ensure_ascii=False) + "\n")
        token = base64.b64decode(row.timestamp_token) if row.timestamp_token else None
        item: dict[str, Any] = {
            "seq": row.seq, "run_id": row.run_id, "started_at": row.started_at, "stored_at": row.stored_at,
            "scan_sha256": row.digest, "prev_scan_sha256": row.prev_digest, "chain_head": row.chain_head,
            "signed_by": row.key_fingerprint, "signature_scheme": row.signature_scheme,
            "host_results": len(found),
        }
        if row.signature:
            signed = (run_body(client=client, seq=row.seq, run_id=row.run_id, digest=row.digest, prev_head=prev_head,
                               token=token) if row.signature_scheme == SCHEME_CHAIN_V1
                      else run_message(row.run_id, row.digest, row.prev_digest))
            _write(directory / "signatures" / f"run-{stem}.body", signed)
            _write(directory / "signatures" / f"run-{stem}.sig", bytes.fromhex(row.signature))
            public = stored_keys.get(row.key_fingerprint or "")
            if public is not None and key_fingerprint(bytes.fromhex(public)) == row.key_fingerprint:
                used_keys[row.key_fingerprint] = public
        if token is not None:
            _write(directory / "timestamps" / f"run-{stem}.tsr", token)
            item["timestamp"] = f"timestamps/run-{stem}.tsr"
            stamps += 1
        chain.append(item)
        prev_head = row.chain_head
    _write(directory / "SHA256SUMS", "\n".join(sums) + "\n")
    for fingerprint, public in sorted(used_keys.items()):
        _write(directory / "keys" / f"{fingerprint}.pem", public_pem(bytes.fromhex(public)))
    if tsa_ca is not None:
        try:
            _write(directory / "tsa-ca.pem", tsa_ca.read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read the TSA CA certificate ({exc.strerror or exc})", source=str(tsa_ca)) from exc
    local, _ = store.local_anchors()
    mine = [a for a in local if a.client == client]
    _write(directory / "anchors.txt", "".join(
        [f"# Chain heads of client {client!r} from the MSP's anchor log ({len(mine)}); "
         "gapscan verify --anchor anchors.txt checks each\n"]
        + [f"{a.at or '-'} {a.text()} {a.record()}\n" for a in mine]))
    _write(directory / "decisions.json", json.dumps([d.as_dict() for d in store.decisions(client)], indent=2,
                                                     ensure_ascii=False) + "\n")
    _write(directory / "chain.json", json.dumps({"client": client, "host": host, "runs": chain}, indent=2,
                                                 ensure_ascii=False) + "\n")
    _copy_history(store, client, directory / "history.db")
    (directory / "history.db").chmod(0o600)
    summary = PackSummary(directory=directory, runs=len(run_rows), runs_with_host=sum(1 for c in chain
                                                                                      if c["host_results"]),
                          fingerprints=tuple(sorted(used_keys)), timestamps=stamps, anchors=len(mine))
    _write(directory / "README.md", readme(client, host, chain, summary, tsa_ca is not None, tool_version))
    return summary


def _safe(host: str) -> str:
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in host)


def commands(client: str, chain: Sequence[dict[str, Any]], summary: PackSummary, with_tsa_ca: bool) -> list[str]:
    """The exact checks, run from inside the pack folder."""
    lines = ["sha256sum -c SHA256SUMS"]
    for item in chain:
        stem = f"{item['seq']:04d}"
        if item["signed_by"]:
            lines.append(f"openssl pkeyutl -verify -pubin -inkey keys/{item['signed_by']}.pem -rawin "
                         f"-in signatures/run-{stem}.body -sigfile signatures/run-{stem}.sig")
            if item["signature_scheme"] == SCHEME_CHAIN_V1:
                lines.append(f"grep -c '\"scan_sha256\":\"{item['scan_sha256']}\"' signatures/run-{stem}.body")
        if item.get("timestamp"):
            ca = " -CAfile tsa-ca.pem" if with_tsa_ca else ""
            if with_tsa_ca:
                lines.append(f"openssl ts -verify -in {item['timestamp']} -data runs/{stem}-{item['run_id']}/scan.json"
                             f"{ca}")
    verify = f"gapscan verify --db history.db --client {shlex.quote(client)}"
    verify += "".join(f" --trust {fp}" for fp in summary.fingerprints)
    if summary.anchors:
        verify += " --anchor anchors.txt"
    if with_tsa_ca and summary.timestamps:
        verify += " --tsa-ca tsa-ca.pem"
    lines.append(verify)
    return lines


def readme(client: str, host: str, chain: Sequence[dict[str, Any]], summary: PackSummary, with_tsa_ca: bool,
           tool_version: str) -> str:
    keys = "\n".join(f"- `{fp}` (`keys/{fp}.pem`)" for fp in summary.fingerprints) or "- none: the runs are unsigned"
    tsa_note = "" if with_tsa_ca else ", not included: no TSA CA was configured"
    runs_table = "\n".join(
        f"| {c['seq']} | {c['started_at'][:19]} | `{c['run_id']}` | {c['host_results'] or 'not seen'} | "
        f"{'yes' if c['signed_by'] else 'no'} | {'yes' if c.get('timestamp') else 'no'} | `{c['scan_sha256']}` |"
        for c in chain)
    return f"""# Evidence pack: device {host} of {client}

Written by gapscan {tool_version} on {utcnow().isoformat()[:19]} UTC. It holds every stored scan of this
practice from the MSP's history, so that the state of {host} on each date can be checked on any
machine, without access to (or trust in) the MSP's database.

## What to trust, and from where

- **The MSP's signing key.** Get its fingerprint from the MSP in writing (they print it with
  `gapscan keys show`). The keys that signed these runs:
{keys}
  Only a run signed by a key you trust proves who recorded it: compare the fingerprints.
- **An anchor you hold yourself.** Every report the MSP delivered prints a *History anchor*
  (`run#N:…`). Give it to `gapscan verify --anchor` (or the report file itself): if the history
  was shortened, replaced or rewritten after that report, verify names the record.
- **The timestamp authority's CA certificate** (`tsa-ca.pem`{tsa_note}):
  a timestamp proves the scan.json existed at that time; get the CA certificate from the TSA.

## The runs

| # | started (UTC) | run | results for {host} | signed | timestamped | scan.json SHA-256 |
|---|---|---|---|---|---|---|
{runs_table}

## What is here

- `runs/NNNN-<run>/scan.json`: the stored scan, byte for byte (the whole practice: the digest,
  the signature and the timestamp cover the complete file); `host-{_safe(host)}.json` beside it holds
  this device's results taken from it (convenience only: check them against scan.json).
- `SHA256SUMS`: the SHA-256 of every scan.json, as stored in the history.
- `signatures/run-NNNN.body` and `.sig`: what the MSP's Ed25519 key signed for each run (one
  line of JSON naming the run, its scan.json SHA-256, the previous run's chain head and the
  timestamp's SHA-256) and the raw 64-byte signature.
- `keys/<fingerprint>.pem`: the public keys, as PEM.
- `timestamps/run-NNNN.tsr`: RFC 3161 timestamp replies over each scan.json's SHA-256.
- `anchors.txt`: this practice's chain heads from the MSP's anchor log (on the MSP's machine).
- `chain.json`, `decisions.json`: the chain and the practice's recorded decisions, readable.
- `history.db`: the practice's history (SQLite) for `gapscan verify`.

## Check it

Run from this folder (`sha256sum` and `openssl` are in every Linux distribution; gapscan:
`pip install hipaa-gapscan`). Each command must succeed; the `grep -c` lines print 1.

```sh
{chr(10).join(commands(client, chain, summary, with_tsa_ca))}
```

`gapscan verify` recomputes every digest, link and chain head, checks each signature with the
keys given by `--trust` only (never a key read from the database), each timestamp, and that the
history still holds every anchor; it exits 0 when all match and 4 naming the first record that
does not. Add `--anchor run#N:<hex>` for each head printed on a report you received.
"""
