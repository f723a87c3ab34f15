"""Chain heads kept outside the database: the anchor log, and heads printed in reports.

Every run and decision the store records appends one line to the anchor log
(``$XDG_STATE_HOME/gapscan/anchors.log``, else ``~/.local/state/gapscan/anchors.log``): the store,
the client, the kind of chain (run or decision), the place in it (seq), its head, the time, and
the SHA-256 of the previous line, so that a line removed or edited in the middle of the log
shows. The file is private (0600), only ever appended to (``O_APPEND``, one write per line, under
an exclusive ``flock`` so two gapscans never interleave) and fsynced before the command reports
success.

A head alone (``run#3:<64 hex>``, printed on every report and decision) is an anchor too:
``gapscan verify --anchor`` takes a head, the anchor log, or any text file that holds heads (a
delivered report.html).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.models import utcnow

HEAD = re.compile(r"\b(run|decision)#([0-9]{1,9}):([0-9a-f]{64})\b")
KINDS = ("run", "decision")
_TAIL = 65536  # an anchor line is well under 1 KB: the previous line is in the last 64 KB


def default_anchor_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "gapscan" / "anchors.log"


@dataclass(frozen=True)
class Anchor:
    """One chain head known from outside the database."""

    kind: str  # "run" | "decision"
    seq: int
    head: str
    client: str | None = None  # None: a bare head given on the command line
    run_id: str | None = None
    key: str | None = None  # fingerprint of the key that signed the run, if any
    at: str | None = None
    store: str | None = None
    source: str = ""  # "anchors.log line 3", "--anchor run#3:…"

    def text(self) -> str:
        """The head as reports print it and ``--anchor`` takes it."""
        return f"{self.kind}#{self.seq}:{self.head}"

    def record(self) -> str:
        """The record it anchors, named as verify names records."""
        if self.kind == "run":
            return f"run {self.run_id} (#{self.seq})" if self.run_id else f"run #{self.seq}"
        return f"decision #{self.seq}"


@dataclass(frozen=True)
class AnchorRead:
    anchors: tuple[Anchor, ...] = ()
    problems: tuple[str, ...] = ()  # the log's own links broken, lines that are not anchors


def _line_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _last_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL))
            tail = fh.read()
    except FileNotFoundError:
        return None
    lines = [line for line in tail.split(b"\n") if line]
    return lines[-1] if lines else None


class AnchorLog:
    """The append-only anchor log of this machine (or any file in its format)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> AnchorLog:
        return cls(default_anchor_path())

    def _open_for_append(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"cannot write the anchor log ({exc.strerror or exc})", source=str(self.path)) from exc
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return fd

    def check_writable(self) -> None:
        """Refuse early (before a scan) when the log cannot be appended to."""
        os.close(self._open_for_append())

    def append(self, *, store: str, client: str, kind: str, seq: int, head: str, run_id: str | None = None,
               key: str | None = None) -> Anchor:
        """Append one head and fsync it; returns the anchor as written."""
        created = not self.path.exists()
        fd = self._open_for_append()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_line(self.path)
            record: dict[str, Any] = {
                "v": 1, "at": utcnow().isoformat(), "store": store, "client": client, "kind": kind, "seq": seq,
                "head": head, "run_id": run_id, "key": key, "prev": _line_digest(last) if last else None,
            }
            line = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            size = os.fstat(fd).st_size
            with self.path.open("rb") as fh:
                needs_newline = size > 0 and fh.seek(size - 1) >= 0 and fh.read(1) != b"\n"
            os.write(fd, (b"\n" if needs_newline else b"") + line + b"\n")
            os.fsync(fd)
        except OSError as exc:
            raise InputError(f"cannot write the anchor log ({exc.strerror or exc})", source=str(self.path)) from exc
        finally:
            os.close(fd)  # closing releases the flock
        if created:
            _fsync_dir(self.path.parent)
        return _anchor(record, f"{self.path.name} line ?")

    def read(self) -> AnchorRead:
        """Every anchor of the log, and what is wrong with the log itself. A missing log is empty."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return AnchorRead()
        except OSError as exc:
            raise InputError(f"cannot read the anchor log ({exc.strerror or exc})", source=str(self.path)) from exc
        return parse_log(data, self.path.name)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _anchor(record: dict[str, Any], source: str) -> Anchor:
    kind, seq, head = record.get("kind"), record.get("seq"), record.get("head")
    if kind not in KINDS or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("kind or seq missing")
    if not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{64}", head):
        raise ValueError("head is not a SHA-256")
    client = record.get("client")
    if not isinstance(client, str) or not client:
        raise ValueError("client missing")
    text = {k: record.get(k) if isinstance(record.get(k), str) else None for k in ("run_id", "key", "at", "store")}
    return Anchor(kind=str(kind), seq=seq, head=head, client=client, source=source, **text)


def parse_log(data: bytes, name: str) -> AnchorRead:
    """Anchor-log lines, each checked against the digest of the line before it."""
    anchors: list[Anchor] = []
    problems: list[str] = []
    previous: bytes | None = None
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"{name} line {number}"
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
            anchors.append(_anchor(record, where))
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{where}: not an anchor record ({exc})")
            previous = raw
            continue
        expected = _line_digest(previous) if previous is not None else None
        if record.get("prev") != expected:
            problems.append(f"{where}: does not follow the line before it (a line of the log was removed or "
                            "edited)")
        previous = raw
    return AnchorRead(tuple(anchors), tuple(problems))


def parse_anchor_argument(value: str) -> AnchorRead:
    """``--anchor``: a head (``run#3:<hex>``), an anchor log, or a text file that holds heads."""
    text = value.strip()
    heads = list(HEAD.finditer(text))
    if heads and not HEAD.sub("", text).strip(" \t\u00b7,;"):  # only heads ("run#3:… · decision#2:…")
        return AnchorRead(tuple(Anchor(kind=m[1], seq=int(m[2]), head=m[3], source=f"--anchor {m[0]}")
                                for m in heads))
    path = Path(value).expanduser()
    if not path.is_file():
        raise InputError("neither a head (run#N:<64 hex digits>, as reports print it) nor a file", source=value)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", source=value) from exc
    if data.lstrip().startswith(b"{"):
        return parse_log(data, path.name)
    content = data.decode("utf-8", errors="replace")
    found = tuple(dict.fromkeys(Anchor(kind=m[1], seq=int(m[2]), head=m[3], source=f"{path.name}: {m[0][:24]}…")
                                for m in HEAD.finditer(content)))
    if not found:
        raise InputError("holds no chain head (run#N:<64 hex digits>)", source=value)
    return AnchorRead(found)
