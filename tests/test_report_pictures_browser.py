"""The report's pictures as a person sees them: the demo practice's report.html (recorded scan)
opened in headless Chromium (tests/chromium.py), each SVG drawn with a non-empty size and the
expected node counts; a screenshot of the network map must not be blank."""

from __future__ import annotations

import base64
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from reports.hipaa_view import applicable_framework
from reports.html_report import render_html, report_context
from scanner.config.framework import load_framework
from scanner.models import Status
from tests.chromium import DevTools, require_chromium
from tests.fixtures.report_data import demo_run, lab_client


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = require_chromium()
    work = tmp_path_factory.mktemp("chromium-pictures")
    tools = DevTools(binary, Path(tempfile.mkdtemp(prefix="profile-", dir=work)))
    try:
        yield tools
    finally:
        tools.close()


def _eval(browser: DevTools, session: str, expression: str) -> object:
    return browser.call("Runtime.evaluate", session, returnByValue=True, expression=expression)["result"]["value"]


def test_pictures_render_with_the_expected_nodes(browser: DevTools, tmp_path: Path) -> None:
    run = demo_run()
    page = render_html(run, tmp_path / "report.html", client=lab_client())
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session: str = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.call("Page.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=1100, height=1400, deviceScaleFactor=1,
                 mobile=False)
    browser.call("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired", session)

    sizes = _eval(browser, session, "Array.from(document.querySelectorAll('svg.picture')).map(s => [s.classList[1], "
                                    "s.getBoundingClientRect().width, s.getBoundingClientRect().height])")
    assert isinstance(sizes, list)
    drawn = {name: (w, h) for name, w, h in sizes}
    assert set(drawn) == {"heat-map", "network-map", "risk-matrix", "severity-grid"}  # no history: no trend
    assert all(w > 100 and h > 100 for w, h in drawn.values()), drawn

    domains = {r.target.domain for r in run.results if r.target.domain and r.status in (Status.PASS, Status.FAIL)}
    counts = _eval(browser, session, "({devices: document.querySelectorAll('svg.network-map g.node.device').length,"
                                     " domains: document.querySelectorAll('svg.network-map g.node.domain').length,"
                                     " discs: document.querySelectorAll('svg.risk-matrix g.item').length,"
                                     " rows: document.querySelectorAll('svg.severity-grid g.row').length,"
                                     " safeguards: document.querySelectorAll('svg.heat-map g.safeguard').length})")
    # the risk matrix places the remediation projects that hold a failed finding
    projects = [p for p in report_context(run, lab_client())["projects"] if any(i.results for i in p.items)]
    safeguards = len(applicable_framework(load_framework()).requirements)
    assert counts == {"devices": len(run.hosts), "domains": len(domains), "discs": len(projects),
                      "rows": len(run.hosts) + len(domains), "safeguards": safeguards}, counts

    box = _eval(browser, session, "(() => { const r = document.querySelector('svg.network-map')."
                                  "getBoundingClientRect(); return [r.x, r.y + scrollY, r.width, r.height]; })()")
    assert isinstance(box, list)
    x, y, w, h = box
    shot = browser.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                        clip={"x": x, "y": y, "width": w, "height": min(h, 1200), "scale": 1})
    image = Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 20, "the network map screenshot is blank"
    (tmp_path / "network-map.png").write_bytes(base64.b64decode(shot["data"]))
