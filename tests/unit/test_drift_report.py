"""drift.html: every class and the inventory changes, an inline SVG trend chart, the same
self-contained and escaped guarantees as report.html; written by `gapscan diff --out`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from reports.drift_report import CLASS_ORDER, render_drift_html, trend_chart
from scanner.cli import app
from scanner.history.drift import compare, trend
from scanner.history.store import Store
from scanner.models import ScanRun, Status
from tests.unit.test_store import fails, lab_run, passes, variant

cli = CliRunner()


def _runs() -> tuple[ScanRun, ScanRun, ScanRun, str, str, str]:
    r1 = lab_run()
    fixed, reworded, new = fails(r1)[0], passes(r1)[0], passes(r1)[1]
    r2 = variant(r1, "run-2", 7, status={fixed: Status.PASS}, detail={reworded: "observed something else"},
                 drop_host=r1.hosts[-1].address, add_service=(r1.hosts[0].address, 8443))
    r3 = variant(r2, "run-3", 14, status={fixed: Status.FAIL, new: Status.FAIL})
    return r1, r2, r3, fixed, reworded, new


def test_sections_classes_inventory_and_svg(tmp_path: Path) -> None:
    r1, r2, _, fixed, reworded, _ = _runs()
    drift = compare(r1, r2)
    html = render_drift_html(drift.as_dict(), trend([r1, r2]), tmp_path / "drift.html",
                             client="Demo Dental").read_text(encoding="utf-8")
    for section in ("summary", "trend", "findings", "inventory"):
        assert f'<section id="{section}"' in html
    for kind in CLASS_ORDER:
        assert f'id="class-{kind}"' in html
    resolved = html.split('id="class-resolved"')[1].split("<h3")[0]
    assert fixed in resolved and "Resolved (1)" in resolved
    assert reworded in html.split('id="class-changed_evidence"')[1].split("<h3")[0]
    inventory = html.split('<section id="inventory">')[1]
    assert r1.hosts[-1].address in inventory and f"{r1.hosts[0].address}:8443/tcp" in inventory
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Trend of open gaps by severity"' in html
    assert html.count("<polyline ") == 5, "one line per severity"
    assert "<script" not in html.lower() and "Content-Security-Policy" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "nothing loaded from outside"
    assert not (tmp_path / "drift.html.tmp").exists()


def test_trend_chart_points_follow_the_counts() -> None:
    rows = [{"run_id": "a", "started_at": "2026-11-01T00:00:00", "open_by_severity": {"high": 4, "low": 1}},
            {"run_id": "b", "started_at": "2026-11-08T00:00:00", "open_by_severity": {"high": 2}}]
    chart = trend_chart(rows)
    high = next(s for s in chart.series if s.severity == "high")
    assert [v for _, _, v in high.dots] == [4, 2] and chart.y_max == 4
    assert high.dots[0][0] < high.dots[1][0] and high.dots[0][1] < high.dots[1][1], "older left, more is higher"
    assert [label for _, label in chart.x_labels] == ["2026-11-01", "2026-11-08"]
    single = trend_chart(rows[:1])
    assert len(single.series[0].dots) == 1
    assert trend_chart([]).series[0].points == ""


def test_hostile_strings_are_inert(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>\u202e'
    drift = {"run_a": evil, "run_b": "b", "counts": {"new": 1},
             "findings": [{"class": "new", "fingerprint": evil, "check_id": evil, "severity": "high",
                           "target": evil, "before": None, "after": "fail", "detail": evil}],
             "hosts": {"appeared": [evil], "vanished": []}, "services": {"appeared": [], "vanished": [evil]}}
    rows = [{"run_id": evil, "started_at": evil, "open_by_severity": {"high": 1}}]
    html = render_drift_html(drift, rows, tmp_path / "d.html", client=evil).read_text(encoding="utf-8")
    assert "<script>" not in html and "<img" not in html and "\u202e" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\\u202e" in html


def test_diff_out_writes_drift_json_and_html(tmp_path: Path) -> None:
    r1, r2, r3, fixed, _, new = _runs()
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        for run in (r1, r2, r3):
            store.store_run(run)
    result = cli.invoke(app, ["diff", "run-2", "run-3", "--db", db, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "o" / "drift.json").read_text(encoding="utf-8"))
    assert [row["run_id"] for row in data["trend"]] == [r1.run_id, "run-2", "run-3"]
    html = (tmp_path / "o" / "drift.html").read_text(encoding="utf-8")
    assert fixed in html.split('id="class-regressed"')[1].split("<h3")[0]
    assert new in html.split('id="class-new"')[1].split("<h3")[0]
    assert html.count("<circle ") == 5 * 3, "a point per severity per run of the client"
