"""Hosts and services: what is live in the scope and what answers on it (docs/discovery.md).

``discover()`` is the one entry point. Its phases, each in its own module:

1. host discovery (``scanner.discovery.hosts``): ARP on the local segment when root, TCP
   ping otherwise. It comes first because a connect to a dead on-link address waits ~3 s
   for ARP (docs/lab-notes.md, "Scanning speed"): only live hosts are swept.
2. the TCP sweep (``scanner.discovery.tcp_sweep``): half-open SYN probes as root, connects
   otherwise; RTT-adaptive timeouts (``scanner.discovery.rtt``), retries only where they can
   change the answer, per-host windows that start small. The default ports are nmap's top
   1,000 plus the checks' (``scanner.config.ports``).
3. service identification by what each open port speaks (``scanner.discovery.identify``), or
   nmap -sV (``scanner.discovery.nmap_engine``) when the profile asks for it.
4. UDP probes for the ``udp_ports`` the profile lists (``scanner.discovery.udp_sweep``), run
   alongside phases 2 and 3.

Engines: ``builtin`` is all of the above. ``nmap`` hands phases 1-2 (and 3 with
``service_detection="nmap"``) to nmap; when nmap is missing or fails, the built-in scanner
runs instead and the result says so in ``notes``. ``auto`` uses the built-in sweep (faster
than ``nmap -sT`` and complete, see benchmarks/discovery_bench.py) and nmap only for -sV.

The caller must hold the scope guard (``with enforce(scope): discover(...)``): every Python
socket (connects, and the SYN sweep's raw ``sendto``) is checked by the audit hook, and the raw
ARP frames, the SYN sweep's addresses and the nmap command line are checked address by address
with ``require_in_scope`` before anything is built for them.

Run as a module for a quick look (this is also what the benchmark and the lab tests run
inside the scanner's network namespace)::

    python -m scanner.discovery.pipeline 198.18.0.0/24 --ports 22,25,445 --json
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.config.ports import default_ports
from scanner.config.settings import ConcurrencyConfig, DiscoveryConfig
from scanner.discovery.found import FoundSoFar
from scanner.discovery.hosts import PING_PORTS, discover_hosts
from scanner.discovery.identify import IdentifyStream, IdentifyTimeouts, identify_all
from scanner.discovery.nmap_engine import nmap_path, run_nmap
from scanner.discovery.oui import vendor_of
from scanner.discovery.portmap import map_only
from scanner.discovery.tcp_sweep import SweepResult, sweep
from scanner.discovery.udp_sweep import udp_scan
from scanner.errors import GapscanError, InputError, MissingDependency, ProbeError
from scanner.models import Host, Service, Transport
from scanner.scope.guard import active_scope, enforce
from scanner.scope.targets import Scope, build_scope

ProgressCallback = Callable[[str, int, int], None]

# File descriptors kept free for everything else in the process (logs, the store, probes).
_FD_RESERVE = 128


@dataclass(frozen=True)
class DiscoveryResult:
    """What discovery found, and how."""

    hosts: tuple[Host, ...]  # live hosts, sorted by address, each with its open services
    engine: str  # "builtin" | "nmap"
    host_discovery: str  # "arp" | "tcp" | "arp+tcp" | "none" | "nmap"
    duration_s: float
    notes: tuple[str, ...]  # e.g. "nmap not installed: built-in scanner used"
    timings: tuple[tuple[str, float], ...] = ()  # seconds per phase, in order


@dataclass
class _Run:
    """Mutable state of one discovery while it runs."""

    notes: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    on_progress: ProgressCallback | None = None
    found: FoundSoFar = field(default_factory=FoundSoFar)  # what an interrupt must not lose

    def progress(self, phase: str) -> Callable[[int, int], None] | None:
        callback = self.on_progress
        if callback is None:
            return None
        return lambda done, total: callback(phase, done, total)

    def timed(self, phase: str, started: float) -> None:
        self.timings.append((phase, round(time.monotonic() - started, 3)))


def _scope_hostnames(scope: Scope) -> dict[str, tuple[str, ...]]:
    """The names the user gave for addresses (targets written as hostnames). No reverse DNS:
    the scope resolved them already, and a PTR lookup would be traffic nobody asked for."""
    names: dict[str, list[str]] = {}
    for entry in scope.targets:
        if entry.hostname:
            for net in entry.networks:
                for addr in net:
                    names.setdefault(str(addr), []).append(entry.hostname)
    return {a: tuple(dict.fromkeys(n)) for a, n in names.items()}


def _address_key(address: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(address)
    return addr.version, int(addr)


def _fd_budget(wanted: int, run: _Run) -> int:
    """At most as many connects in flight as the open-file limit leaves room for (one socket
    each)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = max(16, soft - _FD_RESERVE)
    if wanted > budget:
        run.notes.append(f"concurrency lowered from {wanted} to {budget}: open-file limit is {soft}")
        return budget
    return wanted


def discover(
    scope: Scope,
    config: DiscoveryConfig,
    concurrency: ConcurrencyConfig,
    *,
    on_progress: ProgressCallback | None = None,
    found: FoundSoFar | None = None,
) -> DiscoveryResult:
    """Find the live hosts of ``scope`` and their open services.

    Synchronous: runs its own asyncio loop (the caller must not be inside one). Must be called
    inside ``scanner.scope.guard.enforce(scope)``. Raises ``OutOfScopeError`` if anything would be
    sent outside the scope; network conditions (timeouts, refusals) are results, not errors.
    ``found``: filled as hosts and services are found, for a caller whose discovery is
    interrupted (KeyboardInterrupt): it then saves what ``found`` holds.
    """
    if active_scope() is None:
        raise RuntimeError("discover() must run inside scanner.scope.guard.enforce(scope)")
    started = time.monotonic()
    run = _Run(on_progress=on_progress, found=found or FoundSoFar())
    addresses = list(scope.addresses())
    names = _scope_hostnames(scope)
    run.found.hostnames(names)
    engine = "builtin"
    hosts: list[Host] | None = None
    host_method = ""
    if config.engine == "nmap":
        if nmap_path() is None:
            run.notes.append("nmap not installed: built-in scanner used")
        else:
            try:
                run.found.engine = "nmap"
                hosts = _discover_with_nmap(addresses, config, concurrency, run)
                engine, host_method = "nmap", "none" if config.host_discovery == "none" else "nmap"
            except (MissingDependency, ProbeError) as exc:
                run.found.engine = "builtin"
                run.notes.append(f"nmap failed ({exc}): built-in scanner used")
    if hosts is None:
        hosts, host_method = asyncio.run(_discover_builtin(addresses, names, config, concurrency, run))
    else:
        hosts = [h.model_copy(update={"hostnames": names.get(h.address, ())}) for h in hosts]
    hosts.sort(key=lambda h: _address_key(h.address))
    return DiscoveryResult(
        hosts=tuple(hosts),
        engine=engine,
        host_discovery=host_method,
        duration_s=round(time.monotonic() - started, 3),
        notes=tuple(run.notes),
        timings=tuple(run.timings),
    )


async def _discover_builtin(
    addresses: list[str],
    names: dict[str, tuple[str, ...]],
    config: DiscoveryConfig,
    concurrency: ConcurrencyConfig,
    run: _Run,
) -> tuple[list[Host], str]:
    sweep_limit = _fd_budget(config.sweep_concurrency, run)
    probe_limit = min(concurrency.global_limit, sweep_limit)
    per_host = concurrency.per_host

    t = time.monotonic()
    so_far = run.found
    so_far.entered("host discovery")
    # With host_discovery "none" every address is listed live; only those that answer a port
    # are hosts, so an interrupted discovery keeps an address only once a port of it answered.
    listing = config.host_discovery == "none"
    found = await discover_hosts(
        addresses, config.host_discovery, connect_timeout=config.connect_timeout, retries=config.retries,
        global_limit=sweep_limit, per_host=per_host, on_progress=run.progress("hosts"),
        on_live=None if listing else so_far.host,
    )
    run.timed("hosts", t)
    run.notes.extend(found.notes)
    live = [a for a in addresses if a in found.live]
    for address in live:
        if not listing:
            so_far.host(address, found.live[address])
        port, is_open = found.answered.get(address, (0, False))
        if is_open:
            so_far.open_port(address, port)
    so_far.entered("TCP port sweep")

    def port_open(address: str, port: int) -> None:  # from the sweep's worker thread
        so_far.open_port(address, port)
        if stream is not None:
            stream.add_threadsafe(address, port)

    # UDP needs nothing the TCP phases learn: its probes (a datagram or two per port, answered
    # in milliseconds or never) run alongside the sweep, which runs in a worker thread.
    udp_task = asyncio.create_task(_udp(live, config, min(2 * probe_limit, 128), per_host, run)) \
        if config.udp_ports and live else None
    t = time.monotonic()
    if config.tcp_ports == default_ports().ports:
        defaults = default_ports()
        run.notes.append(f"TCP ports: the default {len(defaults.ports)} ({defaults.source}, plus "
                         f"{len(defaults.ports) - defaults.top} the checks need)")
    # Banner identification starts on each port as soon as the sweep finds it open.
    stream = IdentifyStream(global_limit=probe_limit, per_host=per_host, retries=config.retries,
                            timeouts=IdentifyTimeouts(connect=config.connect_timeout),
                            on_service=so_far.service) \
        if config.service_detection == "banner" else None
    try:
        if stream is not None:
            for address, (port, is_open) in found.answered.items():
                if is_open and port in config.tcp_ports and address in live:
                    stream.add(address, port)
        swept = await sweep(
            live, config.tcp_ports, global_limit=sweep_limit, per_host=per_host, max_window=config.sweep_window,
            connect_timeout=config.connect_timeout, retries=config.retries, mode=config.sweep,
            known=found.answered, seeds=found.rtt, on_progress=run.progress("ports"),
            on_open=port_open,
        )
        run.timed("ports", t)
        run.notes.append(_sweep_summary(swept, len(live)))
        so_far.entered("service identification")
        if stream is not None:
            t = time.monotonic()
            services = await stream.finish()
            run.timed("services", t)  # what identification took after the sweep ended
            progress = run.progress("services")
            if progress is not None:
                progress(stream.added, stream.added)
        else:
            services = await _identify(swept.open_ports, config, probe_limit, per_host, run)
            for address, named in services.items():
                for service in named:
                    so_far.service(address, service)
    except BaseException:
        if stream is not None:
            stream.cancel()
        if udp_task is not None:
            udp_task.cancel()
        raise

    if udp_task is not None:
        so_far.entered("UDP probes")
        for host, extra in (await udp_task).items():
            services.setdefault(host, []).extend(extra)
            for service in extra:
                so_far.service(host, service)

    if config.host_discovery == "none":
        keep = [a for a in live if a in swept.responded or a in services]
        dropped = len(live) - len(keep)
        if dropped:
            run.notes.append(f"{dropped} of {len(live)} listed address(es) answered nothing and are not live")
        live = keep
        method = "none"
    else:
        method = "+".join(found.methods) or "none"
        run.notes.append(f"host discovery ({method}): {len(live)} of {len(addresses)} address(es) live")
    hosts = [
        Host(address=a, hostnames=names.get(a, ()), services=tuple(sorted(services.get(a, ()), key=_service_key)),
             discovered_by=found.live.get(a), mac=found.macs.get(a), mac_vendor=vendor_of(found.macs.get(a)))
        for a in live
    ]
    return hosts, method


async def _udp(live: list[str], config: DiscoveryConfig, limit: int, per_host: int,
               run: _Run) -> dict[str, list[Service]]:
    t = time.monotonic()
    udp = await udp_scan(live, config.udp_ports, retries=config.retries, global_limit=limit, per_host=per_host,
                         on_progress=run.progress("udp"))
    run.timed("udp", t)
    if udp.silent:
        run.notes.append(f"UDP: {udp.silent} probe(s) got no answer (closed, or open|filtered: not reported)")
    return udp.services


def _sweep_summary(swept: SweepResult, live: int) -> str:
    open_total = sum(len(p) for p in swept.open_ports.values())
    how = "half-open SYN probes" if swept.mode == "syn" else "connects"
    summary = (f"TCP sweep ({how}): {open_total} open port(s) on {len(swept.open_ports)} of {live} live host(s), "
               f"{swept.probes} probes, per-host window up to {swept.peak_window}")
    if swept.srtt:
        rtts = sorted(swept.srtt.values())
        summary += f", round trips {rtts[0] * 1000:.1f}-{rtts[-1] * 1000:.1f} ms"
    if swept.retried:
        summary += f"; {swept.retried} silent port(s) retried, {swept.recovered} answered on a retry"
    if swept.global_cuts:
        summary += f"; lost SYNs slowed the sweep {swept.global_cuts} time(s)"
    if swept.filtered:
        summary += f"; {swept.filtered} port(s) never answered (filtered)"
    if swept.policy_silent:
        summary += (f"; {len(swept.policy_silent)} host(s) refuse nothing and answer only where they serve "
                    "(default-drop firewall: a canary retry confirmed it, their silences were not retried)")
    if swept.local_failures:
        summary += f"; {swept.local_failures} port(s) not probed: no local socket or buffer to spare"
    return summary


def _service_key(service: Service) -> tuple[int, int]:
    return (0 if service.transport is Transport.TCP else 1, service.port)


async def _identify(
    open_ports: dict[str, list[int]], config: DiscoveryConfig, limit: int, per_host: int, run: _Run
) -> dict[str, list[Service]]:
    mode = config.service_detection
    if mode == "nmap" and open_ports:
        t = time.monotonic()
        progress = run.progress("services")
        if progress is not None:
            progress(0, 1)  # one nmap run: no finer progress to show
        try:
            by_host = await asyncio.to_thread(_nmap_versions, open_ports, config)
            run.timed("services", t)
            if progress is not None:
                progress(1, 1)
            return by_host
        except (MissingDependency, ProbeError) as exc:
            run.notes.append(f"nmap service detection unavailable ({exc}): banners used instead")
            mode = "banner"
    if mode == "banner" and open_ports:
        t = time.monotonic()
        result = await identify_all(open_ports, global_limit=limit, per_host=per_host,
                                    timeouts=IdentifyTimeouts(connect=config.connect_timeout),
                                    retries=config.retries, on_progress=run.progress("services"))
        run.timed("services", t)
        return result
    return {h: [map_only(p) for p in ports] for h, ports in open_ports.items()}


def _nmap_timeout(hosts: int, ports: int, versions: bool) -> int:
    """A generous bound on one nmap run, so that a wedged nmap cannot hang the scan: -sV costs
    seconds per port (docs/lab-notes.md: at least 6 s a host), a connect scan a fraction of one."""
    per_host = 10 + ports * (5.0 if versions else 0.2)
    return int(120 + hosts * per_host)


def _nmap_versions(open_ports: dict[str, list[int]], config: DiscoveryConfig) -> dict[str, list[Service]]:
    """nmap -sV over the open ports the sweep found (-Pn: the hosts are known live)."""
    union = sorted({p for ports in open_ports.values() for p in ports})
    scan = run_nmap(list(open_ports), union, service_detection=True, host_discovery="none",
                    retries=config.retries, timeout_s=_nmap_timeout(len(open_ports), len(union), True))
    by_nmap = {h.address: {s.port: s for s in h.services if s.transport is Transport.TCP} for h in scan.hosts}
    result: dict[str, list[Service]] = {}
    for host, ports in open_ports.items():
        seen = by_nmap.get(host, {})
        # Every port the sweep found open stays; nmap names what it can.
        result[host] = [seen.get(p) or map_only(p) for p in ports]
    return result


def _discover_with_nmap(
    addresses: list[str], config: DiscoveryConfig, concurrency: ConcurrencyConfig, run: _Run
) -> list[Host]:
    """engine="nmap": nmap does host discovery and the sweep (and -sV when asked)."""
    progress = run.progress("nmap")
    if progress is not None:
        progress(0, 1)
    t = time.monotonic()
    scan = run_nmap(
        addresses, config.tcp_ports, udp_ports=config.udp_ports,
        service_detection=config.service_detection == "nmap", host_discovery=config.host_discovery,
        retries=config.retries, ping_ports=PING_PORTS,
        timeout_s=_nmap_timeout(len(addresses), len(config.tcp_ports) + len(config.udp_ports),
                                config.service_detection == "nmap"),
    )
    run.timed("nmap", t)
    if progress is not None:
        progress(1, 1)
    run.notes.extend(scan.warnings)
    run.notes.append(f"nmap: {scan.up} of {len(addresses)} address(es) up ({scan.command})")
    hosts = scan.hosts
    if config.service_detection == "banner":
        open_ports = {h.address: [s.port for s in h.services if s.transport is Transport.TCP] for h in hosts}
        open_ports = {h: p for h, p in open_ports.items() if p}
        if open_ports:
            t = time.monotonic()
            named = asyncio.run(identify_all(
                open_ports, global_limit=concurrency.global_limit, per_host=concurrency.per_host,
                timeouts=IdentifyTimeouts(connect=config.connect_timeout), retries=config.retries,
                on_progress=run.progress("services")))
            run.timed("services", t)
            hosts = [
                h.model_copy(update={"services": tuple(sorted(
                    [*named.get(h.address, []), *(s for s in h.services if s.transport is Transport.UDP)],
                    key=_service_key))})
                for h in hosts
            ]
    return hosts


# ------------------------------------------------------------------------------- the CLI


def _parse_ports(text: str) -> tuple[int, ...]:
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            start, end = int(low), int(high or low)
        except ValueError as exc:
            raise InputError(f"port {part!r} is not a number or a range like 8000-8010", source="--ports") from exc
        if not (0 < start <= end <= 65535):
            raise InputError(f"port range {part!r} is outside 1-65535", source="--ports")
        ports.extend(range(start, end + 1))
    if not ports:
        raise InputError("no ports given", source="--ports")
    return tuple(dict.fromkeys(ports))


def result_to_json(result: DiscoveryResult) -> dict[str, Any]:
    return {
        "engine": result.engine,
        "host_discovery": result.host_discovery,
        "duration_s": result.duration_s,
        "timings": dict(result.timings),
        "notes": list(result.notes),
        "hosts": [h.model_dump(mode="json") for h in result.hosts],
    }


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scanner.discovery.pipeline",
                                     description="gapscan host and service discovery")
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="IP, CIDR, range or hostname")
    parser.add_argument("--exclude", action="append", default=[], metavar="TARGET")
    parser.add_argument("--ports", help="TCP ports, e.g. 22,80,8000-8010 (default: the profile's list)")
    parser.add_argument("--udp-ports", default="", help="UDP ports to probe, e.g. 53,161")
    parser.add_argument("--engine", choices=("auto", "builtin", "nmap"), default="auto")
    parser.add_argument("--host-discovery", choices=("auto", "arp", "tcp", "none"), default="auto")
    parser.add_argument("--service-detection", choices=("banner", "nmap", "none"), default="banner")
    parser.add_argument("--timeout", type=float, help="connect timeout in seconds")
    parser.add_argument("--retries", type=int, help="retries of silent ports")
    parser.add_argument("--sweep", choices=("auto", "syn", "connect"), help="how ports are probed (default auto)")
    parser.add_argument("--sweep-concurrency", type=int, help="connects in flight during the sweep")
    parser.add_argument("--global-limit", type=int, help="connections in flight while identifying")
    parser.add_argument("--per-host", type=int, help="connections in flight to one host")
    parser.add_argument("--allow-public", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        settings: dict[str, Any] = {
            "engine": args.engine,
            "host_discovery": args.host_discovery,
            "service_detection": args.service_detection,
        }
        if args.ports:
            settings["tcp_ports"] = _parse_ports(args.ports)
        if args.udp_ports:
            settings["udp_ports"] = _parse_ports(args.udp_ports)
        for key, value in (("connect_timeout", args.timeout), ("retries", args.retries),
                           ("sweep_concurrency", args.sweep_concurrency), ("sweep", args.sweep)):
            if value is not None:
                settings[key] = value
        limits = {k: v for k, v in (("global_limit", args.global_limit), ("per_host", args.per_host))
                  if v is not None}
        try:
            config = DiscoveryConfig(**settings)
            concurrency = ConcurrencyConfig(**limits)
        except ValueError as exc:
            raise InputError(str(exc), source="command line") from exc
        scope = build_scope(args.targets, args.exclude, allow_public=args.allow_public)
        with enforce(scope):
            result = discover(scope, config, concurrency)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GapscanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result_to_json(result), indent=2))
        return 0
    for host in result.hosts:
        print(f"{host.address}  ({host.discovered_by})")
        for s in host.services:
            detail = " ".join(x for x in (s.product, s.version) if x)
            print(f"  {s.port}/{s.transport.value:<4} {s.service or '?':<12} {detail}")
    for note in result.notes:
        print(f"note: {note}")
    timing = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in result.timings)
    print(f"{len(result.hosts)} live host(s), engine {result.engine}, host discovery {result.host_discovery}, "
          f"{result.duration_s:.2f} s ({timing})")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
