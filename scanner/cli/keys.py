"""gapscan keys init, show and rotate: the MSP's Ed25519 signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err, out
from scanner.cli.document_keys import ORG_HELP, PKCS12_HELP, init_document_keys, show_document_keys


def keys_init(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
    org: Annotated[str | None, typer.Option("--org", help=ORG_HELP)] = None,
    pkcs12: Annotated[Path | None, typer.Option("--pkcs12", help=PKCS12_HELP)] = None,
) -> None:
    """Create the signing key and the document-signing certificate (mode 0600; nothing is overwritten)."""
    from scanner.errors import InputError
    from scanner.history.signing import default_key_path, init_key

    def work() -> int:
        path = key or default_key_path()
        document = init_document_keys(key, org, pkcs12)
        if document is not None:
            err.print(document, highlight=False)
        if path.exists():
            if document is None:
                raise InputError("a signing key and a document-signing certificate already exist here; "
                                 "not overwritten", source=str(path))
            err.print(f"kept the existing run-signing key {path}", highlight=False)
            return EXIT_OK
        signer = init_key(path)
        err.print(f"wrote {path} (keep it private; back it up)", highlight=False)
        out.print(f"key fingerprint: {signer.fingerprint}", highlight=False)
        return EXIT_OK

    _exit_with(work)


def keys_show(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
) -> None:
    """Print the signing key's fingerprint and public key."""
    from scanner.history.signing import default_key_path, load_key

    def work() -> int:
        signer = load_key(key or default_key_path())
        out.print(f"key fingerprint: {signer.fingerprint}\npublic key (Ed25519, hex): {signer.public_raw.hex()}",
                  highlight=False, soft_wrap=True)
        document = show_document_keys(key)
        if document:
            out.print(document, highlight=False, soft_wrap=True)
        return EXIT_OK

    _exit_with(work)


def keys_rotate(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Hand the signing key over to a new one: the store records the rotation, signed by both keys.

    The old key file is kept beside the new one (KEY.retired-<fingerprint>.pem): runs it signed
    stay verifiable, and verify on this machine keeps trusting it."""
    import os

    from scanner.history.signing import Signer, default_key_path, load_key, retired_key_path, write_key
    from scanner.history.store import Store

    def work() -> int:
        path = key or default_key_path()
        old = load_key(path)
        new = Signer.generate()
        retired = write_key(retired_key_path(path, old.fingerprint), old)
        pending = path.with_name(path.name + ".new")
        write_key(pending, new)
        try:
            with Store.open(db) as store:
                store.record_rotation(old, new)
                where = store.url
        except BaseException:
            pending.unlink(missing_ok=True)
            retired_key_path(path, old.fingerprint).unlink(missing_ok=True)
            raise
        os.replace(pending, path)
        err.print(f"recorded the rotation {old.fingerprint} -> {new.fingerprint} in {where}; the old key is kept as "
                  f"{retired}", highlight=False, markup=False)
        err.print("pin the new fingerprint where the old one is pinned (trusted_keys in history.yaml, the "
                  "investigator's copy)", highlight=False)
        out.print(f"key fingerprint: {new.fingerprint}", highlight=False)
        return EXIT_OK

    _exit_with(work)
