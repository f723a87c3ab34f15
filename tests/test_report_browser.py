"""The gap report as a person sees it: a real lab scan rendered, opened in headless Chromium.

`gapscan scan` runs inside the lab's scanner namespace against the real daemons, with a client
file; its report.html is opened in Debian's `chromium` (headless, background networking off, a
fresh profile, every host name unresolvable and every fetch sent to a dead loopback proxy) and
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port is opened). The
test asserts the page requested nothing but its own file:// URL, logged no error (a CSP
violation would be one), shows every section, and saves a screenshot; with
GAPSCAN_SCREENSHOT=path it also writes the screenshot of docs/reports.md there.

Without chromium the test is skipped with a loud reason, unless GAPSCAN_REQUIRE_LAB=1: then it
fails.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.report_data import CLIENT_FILE
from tests.lab.demo import scan_argv

pytestmark = pytest.mark.lab
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = ["cover", "summary", "matrix", "findings", "third-parties", "decisions", "method", "evidence"]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
    # belt and braces for the network rule: no name resolves, and any fetch goes to a dead loopback port
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
]


def _require_chromium() -> str:
    if CHROMIUM is None:
        reason = "CHROMIUM NOT INSTALLED: apt-get install chromium (make system installs it)"
        if os.environ.get("GAPSCAN_REQUIRE_LAB", "") not in ("", "0"):
            pytest.fail(f"{reason} (GAPSCAN_REQUIRE_LAB=1: a missing browser is a failure)", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


class DevTools:
    """Chrome DevTools protocol over the pipe pair Chromium reads on fd 3 and writes on fd 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # runs in the child before exec
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.log = (profile.parent / "chromium.log").open("w")
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
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


@pytest.fixture(scope="module")
def lab_report(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-scan")
    argv = [*scan_argv(out, "json,html,pdf,csv,tickets"), "--client-file", str(CLIENT_FILE),
            "--authorized-by", "Dr. Robin Lee (lab test)", "-q"]
    proc = lab.run_in_scanner(argv, timeout=300)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    for name in ("scan.json", "report.html", "report.pdf", "findings.csv", "tickets.csv"):
        assert (out / name).is_file(), name
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = _require_chromium()
    work = tmp_path_factory.mktemp("chromium")
    tools = DevTools(binary, Path(tempfile.mkdtemp(prefix="profile-", dir=work)))
    try:
        yield tools
    finally:
        tools.close()


def _open_page(browser: DevTools) -> str:
    page = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session: str = browser.call("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
    for domain in ("Network", "Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable", session)
    return session


def _requests(browser: DevTools, session: str) -> list[str]:
    return [e["params"]["request"]["url"] for e in browser.events
            if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session]


def test_detector_sees_an_external_request(browser: DevTools, tmp_path: Path) -> None:
    """Negative control: a page that does load a remote image is caught (the fetch only reaches the
    dead loopback proxy)."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://198.18.0.1/pixel.png"></body></html>')
    session = _open_page(browser)
    browser.call("Page.navigate", session, url=page.as_uri())
    event = browser.wait_for("Network.requestWillBeSent", session, timeout=20,
                             match=lambda e: e["params"]["request"]["url"].startswith("http"))
    assert event["params"]["request"]["url"] == "http://198.18.0.1/pixel.png"


def test_lab_report_in_headless_chromium(lab_report: Path, browser: DevTools) -> None:
    session = _open_page(browser)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=1100, height=1900, deviceScaleFactor=1,
                 mobile=False)
    url = lab_report.resolve().as_uri()
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    browser.call("Page.navigate", session, url=url)
    browser.wait_for("Page.loadEventFired", session)

    found = browser.call("Runtime.evaluate", session, returnByValue=True,
                         expression="Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert found["result"]["value"] == SECTIONS
    heading = browser.call("Runtime.evaluate", session, returnByValue=True,
                           expression="document.querySelector('#cover h1').textContent")
    assert heading["result"]["value"] == "Demo Dental (lab)"  # the client file, not the run's --client
    shot = base64.b64decode(browser.call("Page.captureScreenshot", session, format="png")["data"])
    assert shot.startswith(b"\x89PNG")
    (lab_report.parent / "report.png").write_bytes(shot)
    if os.environ.get("GAPSCAN_SCREENSHOT"):
        Path(os.environ["GAPSCAN_SCREENSHOT"]).write_bytes(shot)

    requested = _requests(browser, session)
    assert requested and all(u == url or u.startswith("data:") for u in requested), requested
    errors = [e["params"] for e in browser.events if e.get("sessionId") == session and (
              (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
              or e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"))]
    assert not errors, errors
