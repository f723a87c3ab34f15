"""How a run's results and a run's identity are laid out in rows: shared by the store that writes
them and the verification that recomputes them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from scanner.history.chain import run_body, run_head


def result_row(run_pk: int, r: Any) -> dict[str, Any]:
    return {
        "run_pk": run_pk, "fingerprint": r.fingerprint, "check_id": r.check_id, "status": r.status.value,
        "severity": r.severity.value, "host": r.target.host, "port": r.target.port, "domain": r.target.domain,
        "result_json": r.model_dump_json(),
    }


def token_bytes(row: Any) -> bytes | None:
    """The stored RFC 3161 reply of a run row (None when it has none; ValueError when damaged)."""
    if row.timestamp_token is None:
        return None
    try:
        return base64.b64decode(row.timestamp_token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the stored timestamp token is not base64") from exc


def body_of(client: str, row: Any, prev_head: str | None) -> bytes:
    return run_body(client=client, seq=row.seq, run_id=row.run_id, digest=row.digest, prev_head=prev_head,
                    token=token_bytes(row))


def head_of(client: str, row: Any, prev_head: str | None) -> str:
    return run_head(body_of(client, row, prev_head), row.key_fingerprint, row.signature)
