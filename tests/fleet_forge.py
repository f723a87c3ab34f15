"""Forged fleet messages for the refusal tests, published with a real sensor's broker login.

``python -m tests.fleet_forge SENSOR_YAML KIND JOB_ID SITE`` (run inside the sensor's namespace):
- ``other-site``: a bundle that claims site SITE for JOB_ID, signed with this sensor's own key;
- ``bad-signature``: a bundle of this sensor's site whose signature is altered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scanner.fleet.bundle import digest, sign
from scanner.fleet.celery_app import publish, result_exchange
from scanner.fleet.config import load_sensor_config
from scanner.fleet.sensor import Sensor
from scanner.fleet.topology import RESULT_ROUTING_KEY, TASK_BUNDLE
from scanner.models import utcnow


def main() -> int:
    config_path, kind, job_id, site = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    sensor = Sensor(load_sensor_config(config_path))
    text = sys.stdin.read()
    payload = {"kind": "bundle", "site": site, "job_id": job_id, "run_id": sys.argv[5], "scan_json": text,
               "digest": digest(text), "sent_at": utcnow().isoformat()}
    signed = sign(payload, sensor.signer)
    if kind == "bad-signature":
        signed["signature"] = ("0" if signed["signature"][0] != "0" else "1") + signed["signature"][1:]
    publish(sensor.app, TASK_BUNDLE, signed, exchange=result_exchange(declare=False), routing_key=RESULT_ROUTING_KEY)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
