"""The device x severity grid: one row per device or domain, one column per severity, the count
of open findings in each cell (the darker, the more)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from reports.pictures.inputs import GridRow
from reports.pictures.svg import clip, document, el, text, title
from scanner.models import Severity

LABEL_W, CELL_W, ROW_H, HEAD_H = 300, 80, 20, 24
_BASE = {"critical": "#8b0000", "high": "#c62828", "medium": "#ef8f00", "low": "#f4c542", "info": "#d9c86a"}


def severity_grid(rows: Sequence[GridRow]) -> Markup:
    order = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]
    width = LABEL_W + CELL_W * len(order) + 4
    height = HEAD_H + ROW_H * len(rows) + 4
    body: list[str] = [text(LABEL_W + (i + 0.5) * CELL_W, 16, sev, 11, text_anchor="middle", font_weight="bold",
                            fill="#1d2329") for i, sev in enumerate(order)]
    for r, row in enumerate(rows):
        y = HEAD_H + r * ROW_H
        cells = [text(4, y + 14, clip(row.label, 46), 10.5, fill="#1d2329")]
        for i, count in enumerate(row.counts):
            x = LABEL_W + i * CELL_W
            fill = _BASE[order[i]] if count else "#f6f8fa"
            opacity = 1.0 if count >= 3 else 0.55 + 0.15 * count if count else 1.0
            cells.append(el("rect", x=x + 1, y=y + 1, width=CELL_W - 2, height=ROW_H - 2, fill=fill,
                            fill_opacity=round(opacity, 2), stroke="#d0d7de", stroke_width=0.5))
            if count:
                dark = order[i] in ("critical", "high")
                cells.append(text(x + CELL_W / 2, y + 14, str(count), 10.5, text_anchor="middle",
                                  fill="#ffffff" if dark else "#1d2329", font_weight="bold"))
        found = ", ".join(f"{c} {s}" for s, c in zip(order, row.counts, strict=True) if c)
        body.append(el("g", title(f"{row.label}: {found or 'no open finding'}"), *cells, class_="row"))
    return document(width, height, "Open findings per device and severity", body, "severity-grid")
