"""Runner behaviour with scripted probes and checks: error capture, sharing, timeouts, interrupts."""

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.config.framework import load_framework
from scanner.config.profiles import Profile, select_checks
from scanner.engine.output import PARTIAL_NAME, ResultSink, read_partial
from scanner.engine.registry import Registry, load_registry
from scanner.engine.runner import ScanRequest, run_scan
from scanner.errors import ProbeTimeout
from scanner.models import Finding, Host, Service, Severity, Skip, Status, Target

CALLS: dict[str, int] = {}
LOCK = threading.Lock()


def _count(name: str) -> None:
    with LOCK:
        CALLS[name] = CALLS.get(name, 0) + 1


@dataclass(frozen=True)
class Facts:
    port: int


class SharedProbe(Probe[Facts]):
    name = "shared"

    def collect(self, target: Target, ctx: ProbeContext) -> Facts:
        _count(f"shared:{target.port}")
        if target.port == 2:
            raise ProbeTimeout("no answer within 1 s")
        if target.port == 3:
            raise ValueError("library blew up")
        if target.port == 4:
            time.sleep(1.5)  # overruns the 0.5 s probe deadline of the test profile
        return Facts(port=target.port or 0)


def _meta(check_id: str, **kw: Any) -> CheckMeta:
    return CheckMeta(id=check_id, title=f"Test check {check_id}", severity=Severity.MEDIUM,
                     applies_to=Applies(services={"svc"}), remediation="Fix it properly.",
                     why="A test gap: it stands for any weakness that puts patient information at risk.", **kw)


class PassesOnOdd(Check):
    meta = _meta("test.odd")
    probes = (SharedProbe,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        port = facts[SharedProbe].port
        yield self.finding(target, passed=port % 2 == 1, detail=f"port {port}")


class AlsoUsesShared(Check):
    meta = _meta("test.also")
    probes = (SharedProbe,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        if facts[SharedProbe].port == 5:
            raise KeyError("check bug")
        if facts[SharedProbe].port == 7:
            return
        yield self.finding(target, passed=True, detail="fine")


class Intrusive(Check):
    meta = _meta("test.intrusive", intrusive=True)
    probes = (SharedProbe,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        yield self.finding(target, passed=True, detail="should never run")


def _registry() -> Registry:
    return load_registry(load_framework(), extra=[(PassesOnOdd, "t"), (AlsoUsesShared, "t"), (Intrusive, "t")])


@dataclass
class FakeDiscovery:
    hosts: tuple[Host, ...]
    engine: str = "fake"
    host_discovery: str = "none"
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()


def _discover(ports: list[int]) -> Any:
    def discover(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                found: Any = None) -> FakeDiscovery:
        services = tuple(Service(port=p, service="svc") for p in ports)
        return FakeDiscovery(hosts=(Host(address="198.18.0.50", services=services),))

    return discover


def _request(registry: Registry) -> ScanRequest:
    profile = Profile(name="t", description="test", checks={"include": ["test.*"]},  # type: ignore[arg-type]
                      timeouts={"connect": 0.5, "read": 0.5, "probe": 0.5})  # type: ignore[arg-type]
    return ScanRequest(profile=select_checks(profile, registry, "test"), targets=("198.18.0.50",))


def test_every_pair_ends_in_exactly_one_result(tmp_path: Path) -> None:
    CALLS.clear()
    registry = _registry()
    run = run_scan(_request(registry), registry, ResultSink(tmp_path), discover=_discover([1, 2, 3, 4, 5, 6, 7]))
    by = {(r.check_id, r.target.port): r for r in run.results}
    assert len(run.results) == 3 * 7 == len(by)
    assert by[("test.odd", 1)].status is Status.PASS
    assert by[("test.odd", 6)].status is Status.FAIL
    assert (by[("test.odd", 2)].status, by[("test.odd", 2)].reason) == (Status.ERROR, "timeout")
    assert (by[("test.odd", 3)].status, by[("test.odd", 3)].reason) == (Status.ERROR, "bug")
    assert "library blew up" in by[("test.odd", 3)].detail
    assert (by[("test.odd", 4)].status, by[("test.odd", 4)].reason) == (Status.ERROR, "timeout")
    assert (by[("test.also", 5)].status, by[("test.also", 5)].reason) == (Status.ERROR, "bug")
    assert "check crashed" in by[("test.also", 5)].detail
    assert "no result" in by[("test.also", 7)].detail
    assert all(by[("test.intrusive", p)].status is Status.SKIPPED for p in range(1, 8))
    assert by[("test.intrusive", 1)].reason == "intrusive_disabled"
    # one probe run per target although two checks needed it (the intrusive one never ran it)
    # once per target, although two checks needed it (the intrusive one never ran it); the probe
    # that timed out (port 2) was retried once (profile default), the crashing one (3) was not.
    assert {p: CALLS[f"shared:{p}"] for p in range(1, 8)} == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1}
    saved = json.loads((tmp_path / "scan.json").read_text())
    assert saved["complete"] is True and len(saved["results"]) == 21
    assert not (tmp_path / PARTIAL_NAME).exists()


class InterruptingSink(ResultSink):
    def __init__(self, out_dir: Path, after: int) -> None:
        super().__init__(out_dir)
        self.after = after
        self.count = 0

    def write(self, result: Any) -> None:
        super().write(result)
        self.count += 1
        if self.count == self.after:
            raise KeyboardInterrupt


def test_interrupt_keeps_partial_results(tmp_path: Path) -> None:
    registry = _registry()
    sink = InterruptingSink(tmp_path, after=3)
    with pytest.raises(KeyboardInterrupt):
        run_scan(_request(registry), registry, sink, discover=_discover([1, 6, 9, 11, 13]))
    partial = read_partial(tmp_path / PARTIAL_NAME)
    assert len(partial) == 3
    saved = json.loads((tmp_path / "scan.json").read_text())
    assert saved["complete"] is False
    statuses = [r["status"] for r in saved["results"]]
    assert len(saved["results"]) == 15  # 3 checks x 5 services: finished ones + interrupted ones
    assert statuses.count("error") >= 1
    interrupted = [r for r in saved["results"] if r["reason"] == "interrupted"]
    assert interrupted and len(interrupted) == 15 - len([r for r in saved["results"] if r["reason"] != "interrupted"])
    done_fps = {r.fingerprint for r in partial}
    assert done_fps <= {r["fingerprint"] for r in saved["results"]}


def test_no_targets_only_domains_runs_no_discovery(tmp_path: Path) -> None:
    registry = _registry()
    request = ScanRequest(profile=_request(registry).profile, domains=("example-practice.test",))

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("discovery must not run without targets")

    run = run_scan(request, registry, ResultSink(tmp_path), discover=boom)
    assert run.results == () and run.hosts == ()


class ListeningProbe(Probe[Facts]):
    name = "listening"
    listens = True

    def collect(self, target: Target, ctx: ProbeContext) -> Facts:
        time.sleep(0.8)  # longer than timeouts.probe (0.5 s), shorter than 0.5 + listen_seconds
        return Facts(port=target.port or 0)


class SlowProbe(ListeningProbe):
    name = "slow"
    listens = False


class UsesListening(Check):
    meta = _meta("test.listening")
    probes = (ListeningProbe,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        yield self.finding(target, passed=True, detail="heard the whole window")


class UsesSlow(UsesListening):
    meta = _meta("test.slow")
    probes = (SlowProbe,)


def test_a_listening_probe_gets_its_window_added_to_the_deadline(tmp_path: Path) -> None:
    registry = load_registry(load_framework(), extra=[(UsesListening, "t"), (UsesSlow, "t")])
    profile = Profile(name="t", description="test", checks={"include": ["test.*"]},  # type: ignore[arg-type]
                      listen_seconds=1.0, timeouts={"connect": 0.5, "read": 0.5, "probe": 0.5})  # type: ignore[arg-type]
    request = ScanRequest(profile=select_checks(profile, registry, "test"), targets=("198.18.0.50",))
    run = run_scan(request, registry, ResultSink(tmp_path), discover=_discover([1]))
    status = {r.check_id: (r.status, r.reason) for r in run.results}
    assert status["test.listening"] == (Status.PASS, None)
    assert status["test.slow"] == (Status.ERROR, "timeout")


STARTS: dict[str, float] = {}


class NetworkListener(Probe[Facts]):
    """Listens for the whole window, like the cloud-sync capture (sends nothing)."""

    name = "net-listen"
    listens = True

    @classmethod
    def applies(cls, target: Target) -> bool:
        return target.host is None and target.service == "network"

    def collect(self, target: Target, ctx: ProbeContext) -> Facts:
        STARTS["listening"] = time.monotonic()
        time.sleep(ctx.listen_seconds)
        return Facts(port=0)


class HearsTheNetwork(Check):
    meta = _meta("test.hears").model_copy(update={"applies_to": Applies(network=True)})
    probes = (NetworkListener,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        yield self.finding(target, passed=True, detail="heard nothing")


def test_passive_listening_runs_from_the_first_second(tmp_path: Path) -> None:
    """The window starts before discovery: a scan costs max(window, work), not their sum."""
    registry = load_registry(load_framework(), extra=[(HearsTheNetwork, "t")])
    profile = Profile(name="t", description="test", checks={"include": ["test.*"]},  # type: ignore[arg-type]
                      listen_seconds=1.0, timeouts={"connect": 0.5, "read": 0.5, "probe": 0.5})  # type: ignore[arg-type]
    request = ScanRequest(profile=select_checks(profile, registry, "test"), targets=("198.18.0.50",))
    STARTS.clear()

    def slow_discovery(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                found: Any = None) -> FakeDiscovery:
        STARTS["discovery"] = time.monotonic()
        time.sleep(0.8)
        STARTS["discovered"] = time.monotonic()
        return FakeDiscovery(hosts=(Host(address="198.18.0.50"),))

    started = time.monotonic()
    run = run_scan(request, registry, ResultSink(tmp_path), discover=slow_discovery)
    wall = time.monotonic() - started
    (result,) = [r for r in run.results if r.check_id == "test.hears"]
    assert (result.status, result.target.service) == (Status.PASS, "network")
    assert STARTS["listening"] < STARTS["discovered"] - 0.5  # heard the network while hosts were found
    assert wall < 1.0 + 0.8 - 0.3, wall  # max(window, discovery) plus overhead, not the sum


def test_no_early_listening_without_a_window(tmp_path: Path) -> None:
    registry = load_registry(load_framework(), extra=[(HearsTheNetwork, "t")])
    profile = Profile(name="t", description="test", checks={"include": ["test.*"]},  # type: ignore[arg-type]
                      listen_seconds=0, timeouts={"connect": 0.5, "read": 0.5, "probe": 0.5})  # type: ignore[arg-type]
    request = ScanRequest(profile=select_checks(profile, registry, "test"), targets=("198.18.0.50",))
    STARTS.clear()

    def discovery(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                found: Any = None) -> FakeDiscovery:
        STARTS["discovered"] = time.monotonic()
        return FakeDiscovery(hosts=(Host(address="198.18.0.50"),))

    run_scan(request, registry, ResultSink(tmp_path), discover=discovery)
    assert STARTS["listening"] > STARTS["discovered"]  # run as an ordinary probe, after discovery
