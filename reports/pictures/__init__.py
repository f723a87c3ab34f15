"""Pictures of the gap report: inline SVG (no script, no remote reference), built from plain
frozen inputs so the drawing code never reads a ScanRun itself.

- ``inputs``: the frozen inputs (``MapDevice``, ``MapService``, ``MatrixItem``, ``GridRow``) and
  their builders from today's report view (a ``ScanRun`` plus the HIPAA catalogue).
- ``svg``: a tiny SVG writer that escapes every text and attribute (strings came off the network).
- ``network_map``, ``risk_matrix``, ``severity_grid``, ``trend``: one drawing each.

The seam for the risk rating (issue 17, ``reports/risk.py``): the inputs carry a ``RiskLevel``
(``likelihood`` and ``impact`` on 1..3, and the ``level`` that colours a node). Until a real rating
exists, ``inputs.placeholder_risk`` derives one from the finding's severity alone and every
picture's caption says so. To plug in the rating, build ``MatrixItem``/``MapService`` with a
``RiskLevel`` made from it (``risk_from=...`` of the builders takes any callable from a list of
failed results to a ``RiskLevel``); the drawings do not change.
"""

from __future__ import annotations

from reports.pictures.inputs import (
    GridRow,
    MapDevice,
    MapService,
    MatrixItem,
    RiskLevel,
    grid_rows,
    map_devices,
    matrix_items,
    placeholder_risk,
)
from reports.pictures.network_map import network_map
from reports.pictures.risk_matrix import risk_matrix
from reports.pictures.severity_grid import severity_grid
from reports.pictures.trend import trend_picture

__all__ = ["GridRow", "MapDevice", "MapService", "MatrixItem", "RiskLevel", "grid_rows", "map_devices",
           "matrix_items", "network_map", "placeholder_risk", "risk_matrix", "severity_grid", "trend_picture"]
