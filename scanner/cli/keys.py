"""gapscan keys init and gapscan keys show: the MSP's Ed25519 signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import EXIT_OK, _exit_with, err, out


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
