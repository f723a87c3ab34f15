"""Writing results to disk as they arrive, and the final scan.json.

Each completed result is appended to ``results.partial.jsonl`` and flushed immediately, so a
scan that is interrupted (Ctrl-C, power, OOM) keeps what it found. ``scan.json`` is written
atomically (temporary file + rename): a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
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
        self._fh: IO[str] | None = self.path.open("w", encoding="utf-8")

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
        path = write_scan_json(run, self.out_dir)
        if run.complete:
            self.path.unlink(missing_ok=True)
        return path


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
