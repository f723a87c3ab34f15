"""Process helpers for the lab: every call has a timeout, every process is ended by its own PID."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


class LabError(RuntimeError):
    """The lab could not be built, started or torn down; the message says which part and why."""


def run(
    argv: Sequence[str],
    *,
    timeout: float = 15.0,
    check: bool = True,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion; raise LabError naming it on failure or timeout."""
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:.0f}s: {' '.join(argv)}") from exc
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]} (is the lab package list installed?)") from exc
    if check and done.returncode != 0:
        raise LabError(f"exit {done.returncode}: {' '.join(argv)}\n{(done.stderr or done.stdout).strip()[-2000:]}")
    return done


def in_ns(namespace: str, argv: Sequence[str]) -> list[str]:
    """argv prefixed to run inside a network namespace. `ip netns exec` execs in place (no extra
    fork), so a Popen of this command has the daemon's own PID."""
    return ["ip", "netns", "exec", namespace, *argv]


@dataclass(frozen=True)
class ProcRecord:
    """A process the lab started, identified by PID *and* start time so that a recycled PID of an
    unrelated process is never signalled after a crash."""

    name: str
    pid: int
    start_time: int
    namespace: str


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 here reaps orphans lazily)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def record(name: str, pid: int, namespace: str) -> ProcRecord:
    return ProcRecord(name=name, pid=pid, start_time=start_time(pid) or 0, namespace=namespace)


def still_ours(rec: ProcRecord) -> bool:
    return rec.pid > 1 and start_time(rec.pid) == rec.start_time and is_running(rec.pid)


def terminate(pids: Iterable[int], grace: float = 1.5) -> list[int]:
    """SIGTERM each PID, wait up to ``grace`` seconds, SIGKILL what is left; return survivors."""
    targets = {p for p in pids if p > 1 and p != os.getpid()}
    pending = set(targets)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            _reap(targets)
            pending = {p for p in pending if is_running(p)}
            if not pending:
                return []
            time.sleep(0.05)
    return sorted(pending)


def stop(child: subprocess.Popen[str], grace: float = 10.0) -> None:
    """End a process this test started: SIGTERM, then SIGKILL after ``grace`` seconds; reaped."""
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _reap(pids: Iterable[int]) -> None:
    """Collect the exit status of those ``pids`` that are our children (never waitpid(-1): that
    could steal the status of an unrelated subprocess of the same test process)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until the PIDs are gone from /proc entirely (zombies reaped); return the rest.

    Orphaned daemons are reaped by PID 1, which on these machines does so lazily (seconds)."""
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        _reap(pending)
        pending = {p for p in pending if Path(f"/proc/{p}").exists()}
        if pending:
            time.sleep(0.1)
    return sorted(pending)


def become_subreaper() -> None:
    """Make this process adopt orphaned descendants (PR_SET_CHILD_SUBREAPER), so the forked
    children of daemons it started are reaped here at teardown instead of lingering as zombies
    until PID 1 gets round to them. Best effort: a no-op where prctl is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def read_pidfile(path: Path, timeout: float) -> int:
    """The PID written to ``path``, waiting up to ``timeout`` seconds for the file to appear."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text().split()
            if text:
                return int(text[0])
        except (FileNotFoundError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise LabError(f"pid file {path} did not appear within {timeout:.0f}s")
        time.sleep(0.05)


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, or a note that it is missing (for error messages)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"
