"""`gapscan web` as a person starts it: a process that prints its URL, listens on 127.0.0.1 only,
keeps the token out of its logs, stops on Ctrl-C; and, run as a user who may only read the
database, answers a save with an error page and changes nothing."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanner.history.store import Store
from scanner.web.rendering import path
from tests.webapp import CLIENT, Browser, lab_run

GAPSCAN = Path(sys.executable).with_name("gapscan")


def listening_addresses(pid: int) -> list[str]:
    """Local addresses of the LISTEN sockets the process holds (from /proc: no tool, no traffic)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: TCP_LISTEN
                address, port = cols[1].split(":")
                if table == "tcp":
                    ip = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
                else:
                    ip = "ipv6:" + address
                found.append(f"{ip}:{int(port, 16)}")
    return found


@contextmanager
def gapscan_web(db: str, env: dict[str, str],
                wrap: list[str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([*(wrap or []), str(GAPSCAN), "web", "--db", db, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        line = ""
        assert proc.stdout is not None
        while not line and time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if proc.poll() is not None:
                break
        assert line.startswith("http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data"),
            "HOME": str(tmp), "COLUMNS": "200"}


def test_gapscan_web_listens_on_loopback_only_and_keeps_the_token_out_of_its_logs(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        store.store_run(lab_run())
    with gapscan_web(db, _env(tmp_path)) as (proc, url):
        port = int(re.match(r"http://127\.0\.0\.1:(\d+)/\?token=", url).group(1))  # type: ignore[union-attr]
        assert listening_addresses(proc.pid) == [f"127.0.0.1:{port}"]
        token = url.split("token=", 1)[1]
        b = Browser(port)
        assert b.get("/").status == 403
        assert b.get(f"/?token={token}").status == 303
        assert b.get(path("clients", CLIENT)).status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        logs = proc.stderr.read() if proc.stderr else ""
    assert token not in logs and "Traceback" not in logs
    assert "sign-off is not possible until this is fixed" in logs  # no document-signing certificate here


def test_a_read_only_database_gives_an_error_page_and_changes_nothing() -> None:
    """The database's folder is mounted read-only (a private mount namespace, as a read-only share
    would be): reading works, a save is an error page that keeps what was typed, nothing changes."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount")
    work = Path(tempfile.mkdtemp(prefix="gapscan-ro-", dir="/tmp"))
    try:
        data = work / "data"
        data.mkdir()
        db = data / "h.db"
        with Store.open(str(db)) as store:
            store.store_run(lab_run())
            before = store.verify()
        digest = hashlib.sha256(db.read_bytes()).hexdigest()
        env = _env(work)
        wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount --bind "{data}" "{data}" && mount -o remount,ro,bind "{data}" && exec "$@"', "sh"]
        with gapscan_web(str(db), env, wrap=wrap) as (_proc, url):
            port = int(url.split(":")[2].split("/")[0])
            b = Browser(port)
            b.get("/?token=" + url.split("token=", 1)[1])
            target = path("clients", CLIENT, "interview", "164.308(a)(7)")
            assert b.get(target).status == 200  # reading works
            reply = b.post(target, {"answered_by": "Maria Lopez, office manager",
                                    "a-164.308(a)(7)-1-answer": "in-place", "a-164.308(a)(7)-1-notes": "kept"})
            assert reply.status == 503, reply.text[:400]
            assert "readonly database" in reply.text and "Nothing on this page was recorded" in reply.text
            assert ">kept</textarea>" in reply.text
        assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # not one byte changed
        with Store.open(str(db)) as store:
            after = store.verify()
            assert store.interview_answers(CLIENT) == []
        assert after.ok and (after.runs, after.decisions) == (before.runs, before.decisions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
