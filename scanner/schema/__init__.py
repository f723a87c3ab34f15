"""The JSON Schema of scan.json, shipped in the package.

The file is generated from the models (``python -m scanner.schema > scanner/schema/scan.schema.json``);
a test fails when the two drift apart, and another validates real scanner output against it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from scanner.models import SCHEMA_VERSION, ScanRun

SCHEMA_ID = f"https://gapscan.invalid/schema/scan-{SCHEMA_VERSION}.json"


def generate() -> dict[str, Any]:
    schema = ScanRun.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "gapscan scan.json"
    return schema


def shipped() -> dict[str, Any]:
    text = resources.files("scanner.schema").joinpath("scan.schema.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result
