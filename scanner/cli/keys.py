"""gapscan keys init, show and rotate: the MSP's Ed25519 signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err, out


def keys_init(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
) -> None:
    """Create the signing key (mode 0600; an existing key is never overwritten)."""
    from scanner.history.signing import default_key_path, init_key

    def work() -> int:
        path = key or default_key_path()
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
