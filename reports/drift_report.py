"""drift.html: what changed between two runs of a client, and the trend of open gaps.

Input is plain data, never the store nor ``scanner.history.drift`` objects: the drift as
``Drift.as_dict()`` writes it (the same content as drift.json) and the trend rows of
``scanner.history.drift.trend``. Same guarantees as report.html: one self-contained file, inline CSS and
SVG, no script, a Content-Security-Policy meta, every value autoescaped (banners and details came
off the network), zero-width and bidi characters shown as visible escapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.html_report import _ENV
from reports.view import HEAT_COLOURS, SEVERITIES

CLASS_TITLES = {
    "new": "New gaps",
    "regressed": "Regressed (had been resolved, fail again)",
    "resolved": "Resolved",
    "not_retested": "Not retested (failed before, no pass now: not counted as resolved)",
    "changed_evidence": "Changed evidence on a passing check",
    "persisting": "Persisting gaps",
}
CLASS_ORDER = ("new", "regressed", "resolved", "not_retested", "changed_evidence", "persisting")


@dataclass(frozen=True)
class Series:
    severity: str
    colour: str
    points: str  # SVG polyline points
    dots: tuple[tuple[float, float, int], ...]  # (x, y, value)


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    y_max: int
    y_ticks: tuple[tuple[float, int], ...]  # (y, value)
    x_labels: tuple[tuple[float, str], ...]  # (x, label)
    series: tuple[Series, ...]


def trend_chart(trend: Sequence[Mapping[str, Any]], width: int = 720, height: int = 260) -> TrendChart:
    """Layout of the trend chart: one line per severity, one point per run (oldest left)."""
    left, top, right, bottom = 44, 12, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(trend)
    values = {s.value: [int(row.get("open_by_severity", {}).get(s.value, 0)) for row in trend] for s in SEVERITIES}
    y_max = max([1, *(v for vs in values.values() for v in vs)])

    def x(i: int) -> float:
        return round(left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y(v: int) -> float:
        return round(top + plot_h - plot_h * v / y_max, 1)

    step = max(1, -(-y_max // 5))
    ticks = tuple((y(v), v) for v in range(0, y_max + 1, step))
    labels = tuple((x(i), str(row.get("started_at", ""))[:10]) for i, row in enumerate(trend))
    series = tuple(
        Series(sev, HEAT_COLOURS[sev], " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vs)),
               tuple((x(i), y(v), v) for i, v in enumerate(vs)))
        for sev, vs in values.items())
    return TrendChart(width, height, left, top, plot_w, plot_h, y_max, ticks, labels, series)


def drift_context(drift: Mapping[str, Any], trend: Sequence[Mapping[str, Any]],
                  client: str | None = None) -> dict[str, Any]:
    findings = list(drift.get("findings", []))
    return {
        "client": client or drift.get("client") or "the practice",
        "run_a": drift.get("run_a", ""),
        "run_b": drift.get("run_b", ""),
        "counts": drift.get("counts", {}),
        "classes": [(k, CLASS_TITLES[k], [f for f in findings if f.get("class") == k]) for k in CLASS_ORDER],
        "hosts": drift.get("hosts", {"appeared": [], "vanished": []}),
        "services": drift.get("services", {"appeared": [], "vanished": []}),
        "trend": list(trend),
        "chart": trend_chart(trend),
        "severities": [s.value for s in SEVERITIES],
    }


def drift_html_text(drift: Mapping[str, Any], trend: Sequence[Mapping[str, Any]], client: str | None = None) -> str:
    return _ENV.get_template("drift.html.j2").render(**drift_context(drift, trend, client))


def render_drift_html(drift: Mapping[str, Any], trend: Sequence[Mapping[str, Any]], path: Path, *,
                      client: str | None = None) -> Path:
    """Write drift.html (atomically: a rescan killed half-way leaves the previous file whole)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(drift_html_text(drift, trend, client), encoding="utf-8")
    tmp.replace(path)
    return path
