"""Writing results to disk as they arrive, and the final scan.json.

Each completed result is appended to ``results.partial.jsonl`` and flushed immediately, so a
scan that is interrupted (Ctrl-C, power, OOM) keeps what it found. ``scan.json`` is written
atomically (temporary file + rename): a reader never sees half a file.

Every file written here is private (0600) and never written *through* a path that already
exists: an output directory is often shared or world-writable, and a symlink planted as
``report.html`` must not make a scan running as root overwrite what it points at. Files are
created with O_NOFOLLOW|O_EXCL, or rendered in a private staging directory and renamed over the
final name (a rename replaces a planted link; it never follows it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import ValidationError

from scanner.errors import InputError
from scanner.models import CheckResult, ScanRun

PARTIAL_NAME = "results.partial.jsonl"
SCAN_JSON = "scan.json"


class ResultSink:
    """Append-only JSON-lines log of completed results in the output directory."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output directory ({exc.strerror or exc})", source=str(out_dir)) from exc
        self.path = out_dir / PARTIAL_NAME
        # A previous run's scan.json must not look like this run's if this one is interrupted
        # before it writes its own (issue 15): it goes now.
        (out_dir / SCAN_JSON).unlink(missing_ok=True)
        self.saved: Path | None = None  # scan.json, once this run has written it
        self._fh: IO[str] | None = os.fdopen(create_private(self.path), "w", encoding="utf-8")

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def write(self, result: CheckResult) -> None:
        if self._fh is None:
            return
        self._fh.write(result.model_dump_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self, run: ScanRun) -> Path:
        """Write scan.json; the partial log is removed once the complete file is in place."""
        self.close()
        with _signals_deferred():  # a second Ctrl-C must not tear scan.json in half
            path = write_scan_json(run, self.out_dir)
        self.saved = path
        if run.complete:
            self.path.unlink(missing_ok=True)
        return path


_DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP while the block runs (main thread only); delivered after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def create_private(path: Path) -> int:
    """A new, empty file only its owner can read, as a writable descriptor. Whatever stood at
    ``path`` before (an old file, a planted symlink) is removed, never followed or reused."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(3):
        try:
            return os.open(path, flags, 0o600)
        except FileExistsError:
            if path.is_dir() and not path.is_symlink():
                raise InputError("is a directory, not an output file", source=str(path)) from None
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output file ({exc.strerror or exc})", source=str(path)) from exc
    raise InputError("cannot create output file: something keeps re-creating it", source=str(path))


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A private (0700) directory inside ``out_dir`` for renderers to write into; removed after."""
    staged = Path(tempfile.mkdtemp(prefix=".gapscan-", dir=out_dir))
    try:
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def publish(render: Callable[[Path], Path], final: Path) -> Path:
    """Have ``render`` write a file in a private staging directory beside ``final``, then make it
    0600 and rename it over ``final``. A renderer never opens the final path itself."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_dir() and not final.is_symlink():
        raise InputError("is a directory, not an output file", source=str(final))
    with staging_dir(final.parent) as staged:
        written = render(staged / final.name)
        os.chmod(written, stat.S_IRUSR | stat.S_IWUSR)
        try:
            os.replace(written, final)
        except OSError as exc:
            if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise InputError("is a directory, not an output file", source=str(final)) from exc
            raise
    return final


def write_scan_json(run: ScanRun, out_dir: Path) -> Path:
    target = out_dir / SCAN_JSON
    fd, tmp = tempfile.mkstemp(prefix=".scan.", suffix=".json", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(run.model_dump_json(indent=2))
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_partial(path: Path) -> list[CheckResult]:
    """Results saved by an interrupted scan (a torn last line is ignored)."""
    results = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            results.append(CheckResult.model_validate_json(line))
        except ValidationError:
            continue
    return results


def load_scan_json(path: Path) -> ScanRun:
    """Read a saved run; a wrong or damaged file is an InputError, never a traceback."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read run ({exc.strerror or exc})", source=str(path)) from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", source=str(path), where=f"line {exc.lineno}") from exc
    try:
        return ScanRun.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise InputError(f"not a gapscan scan.json: key '{key}': {first['msg']}", source=str(path)) from exc
