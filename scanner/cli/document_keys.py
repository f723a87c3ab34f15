"""The document-signing certificate that seals signed decision records (issue 18), for gapscan keys."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from scanner.errors import InputError

PKCS12_PASSWORD_ENV = "GAPSCAN_PKCS12_PASSWORD"
ORG_HELP = "MSP name for the self-signed document-signing certificate"
PKCS12_HELP = (f"The MSP's own PKCS#12 (key + certificate) to seal decision records with, instead of a self-signed "
               f"certificate (password from ${PKCS12_PASSWORD_ENV}, else asked)")


def document_paths(key: Path | None) -> tuple[Path, Path]:
    """The document-signing key and certificate live beside the run-signing key."""
    from scanner.history.document_signing import default_document_cert_path, default_document_key_path

    if key is None:
        return default_document_key_path(), default_document_cert_path()
    return key.with_name("document-signing-key.pem"), key.with_name("document-signing-cert.pem")


def _pkcs12_password() -> bytes | None:
    if PKCS12_PASSWORD_ENV in os.environ:
        return os.environ[PKCS12_PASSWORD_ENV].encode() or None
    if sys.stdin.isatty():
        return typer.prompt("PKCS#12 password", hide_input=True, default="", show_default=False).encode() or None
    return None


def init_document_keys(key: Path | None, org: str | None, pkcs12: Path | None) -> str | None:
    """Create (or import) the document signer unless it exists; the line to print, None when it existed."""
    from scanner.history.document_signing import import_pkcs12, init_document_signer

    key_path, cert_path = document_paths(key)
    if key_path.exists() or cert_path.exists():
        if pkcs12 is not None:
            raise InputError("a document-signing key already exists; not overwritten", source=str(key_path))
        return None
    if pkcs12 is not None:
        try:
            data = pkcs12.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read it ({exc.strerror or exc})", source=str(pkcs12)) from exc
        signer = import_pkcs12(data, _pkcs12_password(), key_path, cert_path, source=str(pkcs12))
    else:
        signer = init_document_signer(org or "gapscan MSP", key_path, cert_path)
    return (f"wrote {key_path} and {cert_path}: decision records are sealed by {signer.subject} "
            f"(certificate SHA-256 {signer.fingerprint})")


def show_document_keys(key: Path | None) -> str | None:
    """The document-signing certificate's subject and fingerprint, when there is one."""
    from scanner.history.document_signing import load_document_signer

    key_path, cert_path = document_paths(key)
    if not key_path.exists():
        return None
    signer = load_document_signer(key_path, cert_path)
    expires = signer.certificate.not_valid_after_utc.date().isoformat()
    return (f"document-signing certificate: {signer.subject} (SHA-256 {signer.fingerprint}, valid until {expires})")
