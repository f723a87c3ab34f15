"""Fleet load benchmark: 50 simulated sites publish recorded scan bundles to the centre.

    sudo .venv/bin/python benchmarks/fleet_bench.py [--sites 50] [--bundles-per-site 4] [--json out.json]
    (make bench-fleet)

The fleet lab's centre (tests/lab/fleet.py: rabbitmq-server with TLS, PostgreSQL on a socket) and
one ingest worker (``gapscan fleet ingest``, one message at a time) run in the centre namespace.
Each simulated site is registered with its own Ed25519 key and job rows; its bundles are the
recorded lab scan (tests/fixtures/lab-scan.json, 123 results, 283 KB of scan.json) with the job's
run id and the site's scope, signed with the site's key. All sites publish at once (one thread
each, over TLS) from the first site namespace, with the centre's broker login: 50 broker users
would cost ~150 rabbitmqctl calls (about a second each) and measure nothing of the load.

Printed, not asserted: ingest throughput (stored runs per minute, from the first publish to the
last stored run), end-to-end latency (publish to stored, p50/p95/max), and the peak RSS of the
broker (beam.smp) and of the ingest worker, sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.engine.output import load_scan_json  # noqa: E402
from scanner.fleet.bundle import digest, sign  # noqa: E402
from scanner.history.fleet import FleetRecords, scope_of  # noqa: E402
from scanner.history.signing import Signer  # noqa: E402
from scanner.history.store import Store, canonical_text  # noqa: E402
from tests.lab.fleet import BROKER_NAME, BROKER_PORT, CENTRE_NS, SITES, FleetLab  # noqa: E402
from tests.lab.netns import namespace_pids  # noqa: E402
from tests.lab.proc import in_ns, stop  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "lab-scan.json"
GAPSCAN = str(Path(sys.executable).with_name("gapscan"))


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def publish_all(plan_file: Path, centre_yaml: Path, out_file: Path) -> None:
    """Inside a site namespace: one thread per site publishes its bundles; sent times to out_file."""
    from scanner.fleet.celery_app import ingest_queue, make_app, publish, result_exchange
    from scanner.fleet.config import load_centre_config
    from scanner.fleet.topology import RESULT_ROUTING_KEY, TASK_BUNDLE

    plan = json.loads(plan_file.read_text())
    app = make_app("bench-sites", load_centre_config(centre_yaml).broker, ingest_queue(declare=False))
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def site(bundles: list[dict[str, Any]]) -> None:
        for b in bundles:
            publish(app, TASK_BUNDLE, b, exchange=result_exchange(declare=False), routing_key=RESULT_ROUTING_KEY)
            with lock:
                sent[b["run_id"]] = time.time()

    threads = [threading.Thread(target=site, args=(bundles,)) for bundles in plan.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    out_file.write_text(json.dumps(sent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--bundles-per-site", type=int, default=4)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--publish", nargs=3, type=Path, help=argparse.SUPPRESS)  # internal: the publisher
    args = parser.parse_args()
    if args.publish:
        publish_all(*args.publish)
        return 0
    if os.geteuid() != 0:
        print("fleet_bench needs root (network namespaces)", file=sys.stderr)
        return 2
    lab = FleetLab()
    ingest: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.monotonic()
        lab.up()
        print(f"fleet lab up in {time.monotonic() - t0:.1f} s")
        base = lab.base
        env = {**os.environ, "XDG_DATA_HOME": str(base / "xdg" / "data"), "XDG_CONFIG_HOME": str(base / "xdg" / "cfg")}
        password = base / "centre-password"
        password.write_text(os.urandom(12).hex() + "\n")
        password.chmod(0o600)
        centre_yaml = base / "centre.yaml"
        centre_yaml.write_text(
            f"broker:\n  url: amqps://gapscan-centre@{BROKER_NAME}:{BROKER_PORT}/gapscan\n"
            f"  password_file: {password}\n  ca_file: {lab.ca_file}\n"
            f"db: '{lab.postgres.url()}'\nrabbitmqctl: [{', '.join(repr(a) for a in lab.broker.ctl_argv())}]\n")
        subprocess.run(in_ns(CENTRE_NS, [GAPSCAN, "fleet", "init", "--config", str(centre_yaml)]), check=True,
                       env=env, timeout=120, capture_output=True)
        template = load_scan_json(FIXTURE)
        plan: dict[str, list[dict[str, Any]]] = {}
        with Store.open(lab.postgres.url(), anchors=None) as store:
            records = FleetRecords(store)
            for i in range(args.sites):
                site, key = f"bench{i:03d}", Signer.generate()
                records.add_client(f"Bench practice {i:03d}")
                records.add_site(site, f"Bench practice {i:03d}", key.public_raw, template.profile,
                                 scope_of(list(template.scope.targets), list(template.scope.exclusions),
                                          list(template.scope.domains)))
                bundles = []
                for _ in range(args.bundles_per_site):
                    job = records.create_job(site)
                    text = canonical_text(template.model_copy(update={"run_id": job.run_id}))
                    bundles.append(sign({"kind": "bundle", "site": site, "job_id": job.job_id, "run_id": job.run_id,
                                         "scan_json": text, "digest": digest(text), "sent_at": "bench"}, key))
                plan[site] = bundles
        plan_file, sent_file = base / "plan.json", base / "sent.json"
        plan_file.write_text(json.dumps(plan))
        total = args.sites * args.bundles_per_site
        print(f"{args.sites} sites, {total} bundles of {len(template.results)} results "
              f"({len(canonical_text(template)) // 1024} KB scan.json each)")
        log = (base / "ingest.log").open("ab")
        ingest = subprocess.Popen(in_ns(CENTRE_NS, [GAPSCAN, "fleet", "ingest", "--config", str(centre_yaml)]),
                                  stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        time.sleep(5)  # the worker connects
        peaks = {"broker": 0, "ingest": 0}
        done_sampling = threading.Event()

        def sample() -> None:
            while not done_sampling.wait(0.5):
                pids = namespace_pids(CENTRE_NS)
                peaks["broker"] = max(peaks["broker"], sum(rss_kb(p) for p in pids if comm(p) == "beam.smp"))
                if ingest is not None:
                    peaks["ingest"] = max(peaks["ingest"], rss_kb(ingest.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.time()
        publisher = subprocess.run(in_ns(SITES[0].sensor_ns, [sys.executable, str(Path(__file__).resolve()),
                                                              "--publish", str(plan_file), str(centre_yaml),
                                                              str(sent_file)]),
                                   env=env, cwd=REPO, timeout=900, capture_output=True, text=True)
        if publisher.returncode != 0:
            print(publisher.stderr[-2000:], file=sys.stderr)
            return 1
        published = time.time()
        deadline = time.monotonic() + 900
        with Store.open(lab.postgres.url(), anchors=None) as store:
            while time.monotonic() < deadline:
                stored = store.list_runs()
                if len(stored) >= total:
                    break
                time.sleep(1)
        done_sampling.set()
        sent = json.loads(sent_file.read_text())
        stored_at = {r.run_id: datetime.fromisoformat(r.stored_at).timestamp() for r in stored}
        latencies = sorted(stored_at[k] - v for k, v in sent.items() if k in stored_at)
        last = max(stored_at.values()) if stored_at else published
        minutes = (last - started) / 60
        figures = {
            "sites": args.sites, "bundles": total, "stored": len(stored_at),
            "publish_seconds": round(published - started, 1), "ingest_seconds": round(last - started, 1),
            "runs_per_minute": round(len(stored_at) / minutes, 1) if minutes > 0 else None,
            "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
            "latency_max_s": round(latencies[-1], 2) if latencies else None,
            "broker_rss_mb": round(peaks["broker"] / 1024, 1), "ingest_rss_mb": round(peaks["ingest"] / 1024, 1),
        }
        for k, v in figures.items():
            print(f"{k:>16}: {v}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    finally:
        if ingest is not None:
            stop(ingest, grace=15)  # type: ignore[arg-type]
        lab.down()


if __name__ == "__main__":
    raise SystemExit(main())
