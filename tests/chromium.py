"""Headless Chromium (Debian's package) driven over the DevTools protocol on a pipe.

Shared by the browser tests (the report in tests/test_report_browser.py, the web pages in
tests/test_web_browser.py). ``--remote-debugging-pipe``: no debugging port is opened. Without
chromium a test is skipped with a loud reason, unless GAPSCAN_REQUIRE_LAB=1: then it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
    # belt and braces for the network rule: no name resolves, and any fetch goes to a dead loopback port
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
]
# For pages served by a test on 127.0.0.1: loopback goes direct, everything else to the dead proxy.
# (the resolver rule must exclude 127.0.0.1 explicitly: "MAP *" catches IP literals too)
LOOPBACK_FLAGS = [("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if f.startswith("--host-resolver")
                   else f) for f in FLAGS if not f.startswith("--proxy-bypass-list")]


def require_chromium() -> str:
    if CHROMIUM is None:
        reason = "CHROMIUM NOT INSTALLED: apt-get install chromium (make system installs it)"
        if os.environ.get("GAPSCAN_REQUIRE_LAB", "") not in ("", "0"):
            pytest.fail(f"{reason} (GAPSCAN_REQUIRE_LAB=1: a missing browser is a failure)", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


class DevTools:
    """Chrome DevTools protocol over the pipe pair Chromium reads on fd 3 and writes on fd 4."""

    def __init__(self, binary: str, profile: Path, flags: list[str] | None = None) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # runs in the child before exec
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.log = (profile.parent / "chromium.log").open("w")
        self.proc = subprocess.Popen([binary, *(flags or FLAGS), f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=wire, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, session: str | None = None, timeout: float = 30,
                 match: Callable[[dict[str, Any]], bool] = lambda e: True) -> dict[str, Any]:
        """The first event (seen or to come) of ``method`` for ``session`` that ``match`` accepts."""

        def wanted(event: dict[str, Any]) -> bool:
            return (event.get("method") == method and (session is None or event.get("sessionId") == session)
                    and match(event))

        for event in self.events:
            if wanted(event):
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if wanted(event):
                return event

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.log.close()
