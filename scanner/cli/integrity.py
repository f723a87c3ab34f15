"""What the history commands bring from outside the database: trusted keys, anchors, the
timestamp authority (issue 21). Built here once for verify, scan, rescan, store, report and evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from scanner.cli.common import err
from scanner.config.history_settings import HistorySettings, load_history_settings
from scanner.errors import InputError
from scanner.history.anchors import Anchor, parse_anchor_argument
from scanner.history.signing import default_key_path, key_fingerprint, load_key, read_public_key, retired_keys
from scanner.history.trust import TrustRoots, merge

TRUST_HELP = ("An MSP signing key to trust: a fingerprint (32 hex), a public key (64 hex) or a key file (PEM); "
              "repeatable. Always trusted: the key of gapscan keys init on this machine and trusted_keys in "
              "history.yaml")
ANCHOR_HELP = ("A chain head kept outside the database: run#N:<hex> as a report prints it, an anchors.log, or a "
               "file holding heads (report.html); repeatable. This machine's anchor log is always checked")


def settings() -> HistorySettings:
    return load_history_settings()


def trust_roots(values: Sequence[str], loaded: HistorySettings) -> TrustRoots:
    """The local key file's public key, pinned fingerprints of history.yaml, and ``--trust``."""
    roots: list[TrustRoots] = []
    local = default_key_path()
    for path in ([local] if local.exists() else []) + retired_keys(local):
        signer = load_key(path)
        roots.append(TrustRoots(keys={signer.fingerprint: signer.public_raw.hex()}, sources=(str(path),)))
    if loaded.trusted_keys:
        roots.append(TrustRoots(pinned=frozenset(loaded.trusted_keys), sources=("history.yaml",)))
    for value in values:
        text = value.strip().lower()
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            roots.append(TrustRoots(pinned=frozenset({text}), sources=("--trust",)))
            continue
        path = Path(value).expanduser()
        if path.is_file():
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the key ({exc})", source=value) from exc
            raw = read_public_key(content, value)
        elif len(text) == 64:
            raw = read_public_key(text, "--trust")
        else:
            raise InputError("expected a key fingerprint (32 hex), a public key (64 hex) or a key file",
                             source=f"--trust {value}")
        roots.append(TrustRoots(keys={key_fingerprint(raw): raw.hex()}, sources=(value,)))
    return merge(roots)


def anchors_given(values: Sequence[str]) -> tuple[list[Anchor], list[str]]:
    anchors: list[Anchor] = []
    problems: list[str] = []
    for value in values:
        read = parse_anchor_argument(value)
        anchors += read.anchors
        problems += read.problems
    return anchors, problems


def tsa_certificates(loaded: HistorySettings, tsa_ca: Path | None) -> list[Any] | None:
    from scanner.history.timestamps import load_ca_certs

    path = tsa_ca or (loaded.timestamp_authority.ca_file if loaded.timestamp_authority else None)
    return load_ca_certs(path) if path is not None else None


def stamper(loaded: HistorySettings) -> Callable[[str], bytes | None] | None:
    """Asks the configured timestamp authority; a TSA that fails costs the token, never the run."""
    tsa = loaded.timestamp_authority
    if tsa is None:
        return None
    from scanner.history.timestamps import TimestampError, request_stamp

    certs = tsa_certificates(loaded, None)

    def stamp(digest: str) -> bytes | None:
        try:
            return request_stamp(tsa.url, digest, timeout_s=tsa.timeout_s, ca_certs=certs)
        except TimestampError as exc:
            err.print(f"warning: the run is stored without an RFC 3161 timestamp: {escape(str(exc))} ({tsa.url})",
                      highlight=False)
            return None

    return stamp


def head_text(run_head: Anchor | None, decision_head: Anchor | None) -> str | None:
    """The one line a report prints: the heads it was made from (``gapscan verify --anchor`` takes it)."""
    if run_head is None:
        return None
    text = run_head.text()
    if decision_head is not None:
        text += f" · {decision_head.text()}"
    return text
