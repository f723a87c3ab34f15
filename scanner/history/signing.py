"""Optional Ed25519 signing of stored runs with the MSP's key (``gapscan keys init``).

The private key stays in a 0600 PEM file outside the database
(``$XDG_CONFIG_HOME/gapscan/signing-key.pem``, else ``~/.config/gapscan/signing-key.pem``); the
store keeps the public key and, per run, a signature over the run id, its scan.json digest and the
previous run's digest. Rewriting a whole chain with fresh digests then still fails ``verify``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.errors import InputError


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "gapscan" / "signing-key.pem"


def key_fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw 32-byte public key (hex, first 32 digits): how reports name the key."""
    return hashlib.sha256(public_raw).hexdigest()[:32]


def run_message(run_id: str, digest: str, prev_digest: str | None) -> bytes:
    return f"gapscan-run-v1\n{run_id}\n{digest}\n{prev_digest or ''}\n".encode()


@dataclass(frozen=True)
class Signer:
    """The MSP's private key, loaded from its PEM file."""

    key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_raw)

    def sign(self, message: bytes) -> str:
        return self.key.sign(message).hex()


def write_new_file(path: Path, data: bytes, mode: int = 0o600, *, what: str = "a key") -> None:
    """Create ``path`` with ``mode`` and write ``data``; an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise InputError(f"{what} already exists here; not overwritten", source=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot create the file ({exc.strerror or exc})", source=str(path)) from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def init_key(path: Path) -> Signer:
    """Create a new key file (mode 0600); an existing file is never overwritten."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_new_file(path, pem, what="a signing key")
    return Signer(key)


def load_key(path: Path) -> Signer:
    """Load a signing key; it must be private (mode 0600) and an Ed25519 PEM."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the signing key ({exc.strerror or exc})", source=str(path)) from exc
    if mode & 0o077:
        raise InputError(f"the signing key is readable by others (mode {mode:o}); run: chmod 600 {path}",
                         source=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError("not an unencrypted PEM private key", source=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("not an Ed25519 key (gapscan keys init makes one)", source=str(path))
    return Signer(key)


def signature_ok(public_hex: str, signature_hex: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
