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
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import DevTools, require_chromium
from tests.fixtures.report_data import CLIENT_FILE
from tests.lab.demo import scan_argv

pytestmark = pytest.mark.lab
SECTIONS = ["cover", "summary", "matrix", "findings", "third-parties", "decisions", "method", "evidence"]


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
    binary = require_chromium()
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
