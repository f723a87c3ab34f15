"""The run chain: what each stored run commits to, and the head that anchors it.

A run's *body* is the canonical JSON of its client, place in the chain (seq), run id, the SHA-256
of its scan.json, the head of the client's previous run and the SHA-256 of its RFC 3161
timestamp token (if any). The MSP's Ed25519 key signs the body; the run's *head* is the SHA-256
of the body, the signing key's fingerprint and the signature. Because each body names the
previous head, the head of the newest run commits to every run before it, every signature and
every timestamp token: an anchor of that one value (in the anchor log, a delivered report, the
fleet centre) detects a rewrite, a stripped signature or a removed token anywhere below it.

These bytes are a format: stored heads depend on them, so "gapscan-run-chain-v1" never changes;
a new format gets a new name.
"""

from __future__ import annotations

import hashlib
import json

CHAIN_V1 = "gapscan-run-chain-v1"


def digest_text(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes (scan.json as stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_body(*, client: str, seq: int, run_id: str, digest: str, prev_head: str | None,
             token: bytes | None) -> bytes:
    """The bytes the MSP's key signs for one run."""
    payload = {
        "v": CHAIN_V1, "client": client, "seq": seq, "run_id": run_id, "scan_sha256": digest,
        "prev_head": prev_head, "timestamp_sha256": hashlib.sha256(token).hexdigest() if token else None,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def run_head(body: bytes, key_fingerprint: str | None, signature: str | None) -> str:
    """The chain head after this run: the body with its signature (or with none)."""
    sealed = body + f"\n{key_fingerprint or ''}\n{signature or ''}\n".encode()
    return hashlib.sha256(sealed).hexdigest()
