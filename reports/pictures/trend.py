"""The trend of open gaps over the client's runs (oldest left), one line per severity: the same
layout as the drift report's chart (``reports.drift_report.trend_chart``), drawn for the gap report.
Input: the trend rows of ``scanner.history.drift.trend`` the CLI hands over as plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from reports.pictures.svg import document, el, text, title


def trend_picture(trend: Sequence[Mapping[str, Any]]) -> Markup | None:
    """None with fewer than two runs: one point is not a trend."""
    if len(trend) < 2:
        return None
    from reports.drift_report import trend_chart  # the one layout of the trend, shared with drift.html

    chart = trend_chart(trend)
    body: list[str] = []
    for y, value in chart.y_ticks:
        body.append(el("line", x1=chart.left, x2=chart.left + chart.plot_w, y1=y, y2=y, stroke="#d0d7de"))
        body.append(text(chart.left - 6, y + 4, str(value), 10, text_anchor="end", fill="#57606a"))
    for x, label in chart.x_labels:
        body.append(text(x, chart.top + chart.plot_h + 16, label, 10, text_anchor="middle", fill="#57606a"))
    for series in chart.series:
        if not any(v for _, _, v in series.dots):
            continue
        dots = [el("circle", title(f"{series.severity}: {v}"), cx=x, cy=y, r=3.5, fill=series.colour)
                for x, y, v in series.dots]
        body.append(el("g", el("polyline", points=series.points, fill="none", stroke=series.colour, stroke_width=2.5),
                       *dots, class_="series", data_severity=series.severity))
    return document(chart.width, chart.height, "Open gaps per run, by severity", body, "trend")
