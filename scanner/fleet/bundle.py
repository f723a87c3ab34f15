"""Signed fleet messages: the sensor's result bundle, its refusals and its heartbeats.

Each message is a JSON object; the sensor signs ``gapscan-fleet-v1\\n`` + the object's canonical
JSON (sorted keys, no spaces, without the ``signature`` field) with its Ed25519 key. The centre
verifies with the public key it registered for the *site the message names*: a sensor of site A
cannot make a message the centre accepts as site B's. A bundle carries scan.json as the exact
text the sensor wrote (the history store keeps and hashes those bytes).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from scanner.history.signing import Signer, signature_ok

PREFIX = b"gapscan-fleet-v1\n"


def canonical(payload: dict[str, Any]) -> bytes:
    body = {k: v for k, v in payload.items() if k != "signature"}
    return PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(payload: dict[str, Any], signer: Signer) -> dict[str, Any]:
    return {**payload, "key": signer.fingerprint, "signature": signer.sign(canonical({**payload,
                                                                                     "key": signer.fingerprint}))}


def verify(payload: dict[str, Any], public_hex: str) -> bool:
    signature = payload.get("signature")
    return isinstance(signature, str) and signature_ok(public_hex, signature, canonical(payload))


def digest(scan_json: str) -> str:
    return hashlib.sha256(scan_json.encode("utf-8")).hexdigest()
