"""What the report template needs to draw its pictures, from a saved run (and its trend rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.pictures.heat_map import safeguard_heat_map
from reports.pictures.inputs import (
    LEVEL_COLOURS,
    RiskFrom,
    check_groups,
    grid_rows,
    map_devices,
    matrix_items,
    placeholder_risk,
)
from reports.pictures.network_map import network_map
from reports.pictures.risk_matrix import risk_matrix
from reports.pictures.severity_grid import severity_grid
from reports.pictures.trend import trend_picture
from reports.view import PARTS, SafeguardRow
from scanner.models import CheckResult, ScanRun


def picture_context(run: ScanRun, rows: Sequence[SafeguardRow], trend: Sequence[Mapping[str, Any]] = (),
                    risk_from: RiskFrom = placeholder_risk,
                    groups: Sequence[tuple[str, Sequence[CheckResult]]] | None = None,
                    known: Mapping[str, tuple[str, str | None]] | None = None) -> dict[str, Any]:
    """``groups``: what the risk matrix places, (label, failed results) pairs: the remediation
    projects in the report, in its order; one per failed check, ranked here, when not given.
    ``known``: the asset inventory's (name, role) per address or domain, shown instead of learned
    names and guessed roles."""
    devices = map_devices(run, risk_from, known)
    items = matrix_items(check_groups(run), risk_from) if groups is None else matrix_items(groups, risk_from,
                                                                                          ranked=True)
    return {
        "pictures": {
            "heat_map": safeguard_heat_map(rows, PARTS),
            "network_map": network_map(devices),
            "devices": devices,
            "risk_matrix": risk_matrix(items),
            "matrix_items": items,
            "severity_grid": severity_grid(grid_rows(devices, run)),
            "trend": trend_picture(trend),
            "level_colours": LEVEL_COLOURS,
            "placeholder": risk_from is placeholder_risk,
        },
    }
