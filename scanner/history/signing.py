"""Optional Ed25519 signing of stored runs with the MSP's key (``gapscan keys init``).

The private key stays in a 0600 PEM file outside the database
(``$XDG_CONFIG_HOME/gapscan/signing-key.pem``, else ``~/.config/gapscan/signing-key.pem``); the
store keeps the public key and, per run, a signature over the run's chain body
(``scanner.history.chain``; runs stored before schema 0003 were signed over the run id, its
scan.json digest and the previous run's digest: scheme ``run-v1``). ``verify`` checks signatures
only with keys it trusts from outside the database (``scanner.history.trust``).

A key rotation is a record signed by both keys: the old one hands over, the new one accepts.
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


def retired_key_path(path: Path, fingerprint: str) -> Path:
    """Where ``gapscan keys rotate`` keeps a key it handed over: beside the key file."""
    return path.with_name(f"{path.stem}.retired-{fingerprint}{path.suffix or '.pem'}")


def retired_keys(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.stem}.retired-*{path.suffix or '.pem'}"))


def key_fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw 32-byte public key (hex, first 32 digits): how reports name the key."""
    return hashlib.sha256(public_raw).hexdigest()[:32]


SCHEME_RUN_V1 = "run-v1"  # legacy: run id, digest, previous digest (schema 0002)
SCHEME_CHAIN_V1 = "chain-v1"  # the run's chain body (scanner.history.chain)


def run_message(run_id: str, digest: str, prev_digest: str | None) -> bytes:
    return f"gapscan-run-v1\n{run_id}\n{digest}\n{prev_digest or ''}\n".encode()


def rotation_message(old_public: str, new_public: str, rotated_at: str) -> bytes:
    """What both keys of a rotation sign: the old key hands over to the new one at that time."""
    return f"gapscan-key-rotation-v1\n{old_public}\n{new_public}\n{rotated_at}\n".encode()


def public_pem(public_raw: bytes) -> str:
    """The public key as a PEM SubjectPublicKeyInfo (what ``openssl pkeyutl -pubin`` reads)."""
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def read_public_key(text: str, source: str) -> bytes:
    """An Ed25519 public key from a PEM (public or private: only its public half is kept) or 64 hex."""
    stripped = text.strip()
    if len(stripped) == 64 and all(c in "0123456789abcdefABCDEF" for c in stripped):
        return bytes.fromhex(stripped)
    data = stripped.encode()
    key: object
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise InputError("not an Ed25519 public key (PEM or 64 hex digits)", source=source) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 key", source=source)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


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

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())


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
        fh.flush()
        os.fsync(fh.fileno())


def init_key(path: Path) -> Signer:
    """Create a new key file (mode 0600); an existing file is never overwritten."""
    return write_key(path, Signer.generate())


def write_key(path: Path, signer: Signer) -> Signer:
    """Write a key file (mode 0600); an existing file is never overwritten."""
    pem = signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    write_new_file(path, pem, what="a signing key")
    return signer


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
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
