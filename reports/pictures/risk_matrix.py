"""The risk matrix: likelihood (x) by impact (y) on a 3-point scale, each item a numbered disc
in its cell; the numbers are listed beside the picture (the template prints the legend)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from markupsafe import Markup

from reports.pictures.inputs import LEVEL_COLOURS, SCALE, SCALE_WORDS, MatrixItem, RiskLevel
from reports.pictures.svg import document, el, text, title

CELL_W, CELL_H = 190, 100
LEFT, TOP = 70, 10
PER_ROW = 8
ROWS = 4
DISC_R = 9.5


def _cell_fill(likelihood: int, impact: int) -> str:
    level = RiskLevel(likelihood, impact).level
    return {"high": "#ffd7d5", "moderate": "#ffe8c2", "low": "#fff6d1"}[level]


def risk_matrix(items: Sequence[MatrixItem]) -> Markup:
    width, height = LEFT + 3 * CELL_W + 10, TOP + 3 * CELL_H + 46
    body: list[str] = []
    for impact in SCALE:
        for likelihood in SCALE:
            x, y = LEFT + (likelihood - 1) * CELL_W, TOP + (3 - impact) * CELL_H
            body.append(el("rect", x=x, y=y, width=CELL_W, height=CELL_H, fill=_cell_fill(likelihood, impact),
                           stroke="#ffffff", stroke_width=2, class_="cell"))
    for v in SCALE:
        body.append(text(LEFT + (v - 0.5) * CELL_W, TOP + 3 * CELL_H + 16, SCALE_WORDS[v], 11, text_anchor="middle",
                         fill="#1d2329"))
        body.append(text(LEFT - 8, TOP + (3.5 - v) * CELL_H + 4, SCALE_WORDS[v], 11, text_anchor="end",
                         fill="#1d2329"))
    body.append(text(LEFT + 1.5 * CELL_W, TOP + 3 * CELL_H + 36, "likelihood →", 12, text_anchor="middle",
                     font_weight="bold", fill="#1d2329"))
    body.append(text(14, TOP + 1.5 * CELL_H, "impact →", 12, text_anchor="middle", font_weight="bold",
                     fill="#1d2329", transform=f"rotate(-90 14 {TOP + 1.5 * CELL_H})"))
    in_cell: dict[tuple[int, int], list[MatrixItem]] = defaultdict(list)
    for item in items:
        in_cell[(item.risk.likelihood, item.risk.impact)].append(item)
    for (likelihood, impact), members in in_cell.items():
        x0, y0 = LEFT + (likelihood - 1) * CELL_W, TOP + (3 - impact) * CELL_H
        for i, item in enumerate(members):
            if i >= PER_ROW * ROWS:
                body.append(text(x0 + CELL_W - 6, y0 + CELL_H - 6, f"+{len(members) - i}", 10, text_anchor="end",
                                 fill="#1d2329"))
                break
            cx = x0 + 14 + (i % PER_ROW) * 23
            cy = y0 + 15 + (i // PER_ROW) * 23
            colour = LEVEL_COLOURS[item.risk.level]
            dark = item.risk.level == "high"
            body.append(el("g", title(f"{item.number}. {item.label} ({item.places} place(s)); risk {item.risk.level}: "
                                      f"likelihood {item.risk.likelihood}, impact {item.risk.impact}"),
                           el("circle", cx=cx, cy=cy, r=DISC_R, fill=colour, stroke="#1d2329", stroke_width=0.8),
                           text(cx, cy + 3.5, str(item.number), 9, text_anchor="middle", font_weight="bold",
                                fill="#ffffff" if dark else "#1d2329"),
                           class_="item"))
    return document(width, height, "Risk matrix: likelihood by impact, each numbered item placed in its cell",
                    body, "risk-matrix")
