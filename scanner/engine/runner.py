"""Runs a scan: scope -> discovery -> plan -> probes (concurrent, bounded, timed) -> checks.

Guarantees the rest of the product relies on:
- every planned (check, target) pair ends in exactly one result (pass, fail, error with a
  reason code, or skipped with a reason); a crashing probe or check becomes an ``error``
  result, never a silent drop and never a crash of the whole scan;
- each probe runs once per target however many checks need it;
- concurrency is bounded globally and per host (fragile clinical devices);
- each result is written to disk as it completes, so an interrupted scan keeps what it found;
- while the scan runs, the scope guard refuses any packet to an address outside the scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from scanner import __version__
from scanner.check import CheckSettings, Probe, ProbeContext, ScopeView
from scanner.config.profiles import LoadedProfile
from scanner.credentials import CredentialStore
from scanner.discovery.found import FoundSoFar
from scanner.discovery.mdns import MdnsListener, mdns_names
from scanner.discovery.names import reverse_names
from scanner.discovery.netbios import TOTAL_SECONDS as NETBIOS_SECONDS
from scanner.discovery.netbios import netbios_names
from scanner.engine.output import ResultSink
from scanner.engine.passive import PassiveListening, start_passive_listening
from scanner.engine.planner import NETWORK_TARGET, Plan, PlannedCheck, plan_checks
from scanner.engine.registry import Registry
from scanner.errors import OutOfScopeError, ProbeError, ProbeTimeout
from scanner.models import (
    CheckResult,
    DiscoveryRecord,
    ErrorReason,
    Finding,
    Host,
    ScanRun,
    ScopeRecord,
    Skip,
    SkipReason,
    Status,
    Target,
    Undetermined,
    fingerprint,
    summarize,
    utcnow,
)
from scanner.net.reaper import sockets_shut_at
from scanner.net.text import sanitize
from scanner.scope import guard as scope_guard
from scanner.scope import targets as scope_targets


class ProgressReporter(Protocol):
    """What the CLI's progress bar implements; the library never prints."""

    def phase(self, name: str, total: int) -> None: ...
    def advance(self, name: str, done: int | None = None) -> None: ...


class NullProgress:
    def phase(self, name: str, total: int) -> None:
        return None

    def advance(self, name: str, done: int | None = None) -> None:
        return None


@dataclass(frozen=True)
class ScanRequest:
    """Everything a scan needs from its caller (the CLI, a test, a scheduler)."""

    profile: LoadedProfile
    targets: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()
    client: str | None = None
    allow_public: bool = False
    authorized_by: str | None = None
    scope_file: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    credentials: CredentialStore | None = None  # resolved --credentials; secrets never reach the run record


DiscoverFn = Callable[..., Any]


def _default_discover() -> DiscoverFn:
    from scanner.discovery.pipeline import discover

    return discover


@dataclass
class _RunState:
    """Results collected so far; survives an interrupt so they can be saved."""

    results: list[CheckResult] = field(default_factory=list)
    done: set[int] = field(default_factory=set)


def result_from_finding(planned: PlannedCheck, item: Finding | Skip | Undetermined, started: datetime) -> CheckResult:
    meta = planned.check.meta
    if isinstance(item, Undetermined):
        return CheckResult(
            check_id=meta.id, status=Status.ERROR, severity=meta.severity, title=meta.title,
            target=item.target, detail=sanitize(item.detail, 400), evidence=item.evidence,
            hipaa=planned.check.hipaa, remediation=meta.remediation,
            fingerprint=fingerprint(meta.id, item.target, item.discriminator),
            reason=item.reason.value, started_at=started, finished_at=utcnow(),
        )
    if isinstance(item, Skip):
        return CheckResult(
            check_id=meta.id, status=Status.SKIPPED, severity=meta.severity, title=meta.title,
            target=item.target, detail=item.detail, hipaa=planned.check.hipaa,
            remediation=meta.remediation, fingerprint=fingerprint(meta.id, item.target),
            reason=item.reason.value, started_at=started, finished_at=utcnow(),
        )
    return CheckResult(
        check_id=meta.id,
        status=Status.PASS if item.passed else Status.FAIL,
        severity=item.severity or meta.severity,
        title=meta.title,
        target=item.target,
        detail=item.detail,
        evidence=item.evidence,
        hipaa=planned.check.hipaa,
        remediation=meta.remediation,
        fingerprint=fingerprint(meta.id, item.target, item.discriminator),
        started_at=started,
        finished_at=utcnow(),
        third_parties=item.third_parties,
        software=item.software,
    )


def error_result(planned: PlannedCheck, reason: ErrorReason, detail: str,
                 started: datetime | None = None) -> CheckResult:
    meta = planned.check.meta
    return CheckResult(
        check_id=meta.id, status=Status.ERROR, severity=meta.severity, title=meta.title,
        target=planned.target, detail=sanitize(detail, 400), hipaa=planned.check.hipaa,
        remediation=meta.remediation, fingerprint=fingerprint(meta.id, planned.target),
        reason=reason.value, started_at=started, finished_at=utcnow(),
    )


def skip_result(planned: PlannedCheck, reason: SkipReason, detail: str) -> CheckResult:
    return result_from_finding(planned, Skip(target=planned.target, reason=reason, detail=detail), utcnow())


def evaluate(planned: PlannedCheck, facts: dict[type[Probe[Any]], Any], started: datetime,
             settings: CheckSettings | None = None) -> list[CheckResult]:
    """Run the pure check with its validated profile settings (None: its declared defaults); a
    crash or an empty answer is an ``error`` (reason bug)."""
    try:
        check = planned.check.cls(settings) if settings is not None else planned.check.cls()
        items = list(check.evaluate(planned.target, facts))
    except Exception as exc:
        return [error_result(planned, ErrorReason.BUG,
                             f"check crashed: {exc.__class__.__name__}: {exc}", started)]
    if not items:
        return [error_result(planned, ErrorReason.BUG, "check produced no result", started)]
    results = [result_from_finding(planned, item, started) for item in items]
    seen: set[str] = set()
    for result in results:
        if result.fingerprint in seen:
            return [error_result(planned, ErrorReason.BUG,
                                 "check emitted two findings with the same discriminator", started)]
        seen.add(result.fingerprint)
    return results


RETRYABLE = frozenset({ErrorReason.TIMEOUT, ErrorReason.UNREACHABLE})


def _in_daemon_thread(loop: asyncio.AbstractEventLoop, name: str, fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run ``fn`` in a daemon thread; its outcome resolves the returned future.

    Python threads cannot be killed. A probe that ignores its deadline (a library call without a
    timeout, a server dripping one byte every 2 s) must not be able to keep the process alive
    once the run's results are written, so probes never run in a ThreadPoolExecutor (whose
    workers the interpreter joins at exit): each call gets a daemon thread, bounded in number by
    the runner's semaphores, and is abandoned, not waited for, past its deadline."""
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if future.done():
            return  # the runner gave up on this call (deadline, watchdog, interrupt)
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # handed to the event loop, which decides what it means
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for this result
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=f"probe {name}", daemon=True).start()
    return future


class DeadlinePassed(ProbeTimeout):
    """A probe call that ran to its deadline: never retried (a second call would meet the same
    server and only stack up threads)."""


def collect_bounded(probe: Probe[Any], target: Target, ctx: ProbeContext) -> Any:
    """``probe.collect`` with every socket it opens shut down at its deadline (scanner.net.reaper):
    a library that keeps a per-read timeout (http.client, ssl, paramiko, impacket) cannot keep
    the call alive past it. Facts read after that moment came from a cut connection and are
    discarded: the call is a timeout."""
    name = probe.name or type(probe).__name__
    with sockets_shut_at(ctx.deadline) as reaping:
        try:
            facts = probe.collect(target, ctx)
        except Exception as exc:
            if reaping.fired:
                raise DeadlinePassed(f"probe {name} did not finish before its deadline "
                                   f"(its connections were shut: {exc.__class__.__name__})") from exc
            raise
    if reaping.fired:
        raise DeadlinePassed(f"probe {name} did not finish before its deadline (its connections were shut)")
    return facts


class ProbeExecutor:
    """Runs each (probe, target) once, bounded globally and per host, with a probe deadline."""

    def __init__(self, ctx: ProbeContext, global_limit: int, per_host: int,
                 prestarted: PassiveListening | None = None) -> None:
        self.ctx = ctx
        self.prestarted = prestarted
        self._global = asyncio.Semaphore(global_limit)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))
        self._tasks: dict[tuple[type[Probe[Any]], str], asyncio.Task[Any]] = {}

    def shutdown(self) -> None:
        """Stop waiting for probes still running (their daemon threads end with the process)."""
        for task in self._tasks.values():
            task.cancel()

    def get(self, probe: type[Probe[Any]], target: Target) -> asyncio.Task[Any]:
        key = (probe, target.key())
        if key not in self._tasks:
            early = self.prestarted.get(probe) if self.prestarted and target.key() == NETWORK_TARGET.key() else None
            run = self._await_prestarted(probe, early) if early is not None else self._run(probe, target)
            self._tasks[key] = asyncio.ensure_future(run)
        return self._tasks[key]

    def budget(self, probe_cls: type[Probe[Any]]) -> float:
        """Seconds one call of the probe may take: its timeout, a listening window, extra seconds."""
        return (self.ctx.timeouts.probe + (self.ctx.listen_seconds if probe_cls.listens else 0.0)
                + probe_cls.extra_seconds)

    async def _await_prestarted(self, probe_cls: type[Probe[Any]], future: Any) -> Any:
        """The outcome of a listening probe started before discovery (scanner.engine.passive),
        under the deadline it would have had, counted from when it started."""
        assert self.prestarted is not None
        name = probe_cls.name or probe_cls.__name__
        deadline = self.budget(probe_cls)
        remaining = self.prestarted.started_at + deadline - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(0.0, remaining))
        except TimeoutError:
            return ProbeError(f"probe {name} did not finish within {deadline:.0f} s", ErrorReason.TIMEOUT)
        except OutOfScopeError as exc:
            return ProbeError(str(exc), ErrorReason.OUT_OF_SCOPE)
        except ProbeError as exc:
            return exc
        except Exception as exc:
            return ProbeError(f"probe {name} crashed: {exc.__class__.__name__}: {exc}", ErrorReason.BUG)

    async def _run(self, probe_cls: type[Probe[Any]], target: Target) -> Any:
        """Returns the facts, or the ProbeError that stands for them."""
        loop = asyncio.get_running_loop()
        host_key = target.host or target.domain or ""
        name = probe_cls.name or probe_cls.__name__
        deadline = self.budget(probe_cls)
        async with self._global, self._per_host[host_key]:
            outcome: Any = None
            for _attempt in range(1 + self.ctx.timeouts.retries):
                # Each call sees its own deadline, which its I/O must obey (ProbeContext.remaining).
                ctx = replace(self.ctx, deadline=time.monotonic() + deadline)
                future = _in_daemon_thread(loop, f"{name} {target.label()}",
                                           functools.partial(collect_bounded, probe_cls(), target, ctx))
                try:
                    return await asyncio.wait_for(future, timeout=deadline)
                except TimeoutError:
                    # The probe overran its own deadline: a bug in its timeouts, not a slow
                    # network; retrying would only stack up more stuck threads.
                    return ProbeError(f"probe {name} did not finish within {deadline:.0f} s",
                                      ErrorReason.TIMEOUT)
                except OutOfScopeError as exc:
                    return ProbeError(str(exc), ErrorReason.OUT_OF_SCOPE)
                except ProbeError as exc:
                    outcome = exc
                    if exc.reason not in RETRYABLE or isinstance(exc, DeadlinePassed):
                        return exc
                except Exception as exc:
                    return ProbeError(f"probe {name} crashed: {exc.__class__.__name__}: {exc}", ErrorReason.BUG)
            return outcome


def probe_context(profile: LoadedProfile, settings: dict[str, Any], nameservers: tuple[str, ...] = (),
                  credentials: CredentialStore | None = None, scope: ScopeView | None = None,
                  run_id: str = "") -> ProbeContext:
    """The run's ProbeContext (each probe call gets a copy with its own deadline).

    ``settings`` are the run's own (dkim_selectors from the command line). A profile's per-check
    settings are not here: they are validated against each check's declared schema and handed to
    the check itself (``LoadedProfile.check_settings``, see ``evaluate``)."""
    prof = profile.profile
    return ProbeContext(timeouts=prof.timeouts, intrusive_allowed=prof.intrusive, settings=dict(settings),
                        nameservers=nameservers, listen_seconds=prof.listen_seconds, credentials=credentials,
                        scope=scope, run_id=run_id)


async def execute_plan(plan: Plan, profile: LoadedProfile, state: _RunState,
                       on_result: Callable[[CheckResult], None], progress: ProgressReporter,
                       settings: dict[str, Any], nameservers: tuple[str, ...] = (),
                       credentials: CredentialStore | None = None, scope: ScopeView | None = None,
                       run_id: str = "", run_deadline: float | None = None, ctx: ProbeContext | None = None,
                       prestarted: PassiveListening | None = None) -> bool:
    """Run every planned pair; False when the watchdog ended the run at ``run_deadline``
    (monotonic) with pairs unfinished (the caller records them as error/timeout).
    ``prestarted``: listening probes already running (scanner.engine.passive)."""
    prof = profile.profile
    if ctx is None:
        ctx = probe_context(profile, settings, nameservers, credentials, scope, run_id)
    executor = ProbeExecutor(ctx, prof.concurrency.global_limit, prof.concurrency.per_host, prestarted)

    def record(index: int, results: Iterable[CheckResult]) -> None:
        results = list(results)
        # State first: if writing is interrupted, the pair is still known to be finished.
        state.results.extend(results)
        state.done.add(index)
        for result in results:
            on_result(result)
        progress.advance("checks")

    async def one(index: int, planned: PlannedCheck) -> None:
        meta = planned.check.meta
        if meta.intrusive and not prof.intrusive:
            record(index, [skip_result(planned, SkipReason.INTRUSIVE_DISABLED,
                                       "intrusive check; the profile does not allow intrusive checks")])
            return
        for probe in planned.check.cls.probes:
            if not probe.applies(planned.target):
                record(index, [skip_result(planned, SkipReason.NOT_APPLICABLE,
                                           f"probe {probe.name or probe.__name__} does not apply to this target")])
                return
        started = utcnow()
        facts: dict[type[Probe[Any]], Any] = {}
        for probe in planned.check.cls.probes:
            outcome = await executor.get(probe, planned.target)
            if isinstance(outcome, ProbeError):
                record(index, [error_result(planned, outcome.reason, str(outcome), started)])
                return
            facts[probe] = outcome
        record(index, evaluate(planned, facts, started, profile.check_settings.get(meta.id)))

    progress.phase("checks", len(plan.checks))
    work = asyncio.gather(*(one(i, p) for i, p in enumerate(plan.checks)))
    spent: list[bool] = []

    def watchdog() -> None:  # the profile's run budget is spent: stop waiting for anything
        spent.append(True)
        work.cancel()

    alarm = None
    if run_deadline is not None:
        alarm = asyncio.get_running_loop().call_later(max(0.0, run_deadline - time.monotonic()), watchdog)
    try:
        await work
    except asyncio.CancelledError:
        if not spent:
            raise
        return False
    finally:
        if alarm is not None:
            alarm.cancel()
        executor.shutdown()
    return True


def run_scan(request: ScanRequest, registry: Registry, sink: ResultSink, *,
             progress: ProgressReporter | None = None, discover: DiscoverFn | None = None,
             run_id: str | None = None) -> ScanRun:
    """Run a whole scan and return the finished ScanRun (also saved through ``sink``).

    On KeyboardInterrupt the results so far are saved with ``complete = false`` and every
    unfinished pair recorded as ``error/interrupted``; the interrupt is then re-raised.
    """
    progress = progress or NullProgress()
    started = utcnow()
    run_id = run_id or f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    scope = scope_targets.build_scope(
        request.targets, request.exclusions, allow_public=request.allow_public,
        nameservers=request.nameservers, source=request.scope_file or "command line",
    )
    scope_record = ScopeRecord(
        authorized_by=request.authorized_by, authorized_at=started, targets=request.targets,
        domains=request.domains, exclusions=request.exclusions,
        resolved_addresses=sum(1 for _ in scope.addresses()) if request.targets else 0,
        allow_public=request.allow_public, nameservers=request.nameservers, scope_file=request.scope_file,
        resolved_names=scope.names,
    )
    state = _RunState()
    hosts: tuple[Host, ...] = ()
    discovery = DiscoveryRecord(addresses_in_scope=scope_record.resolved_addresses)
    plan = Plan(())
    prof = request.profile.profile
    finished = True

    run_deadline = time.monotonic() + prof.timeouts.run
    warnings = list(request.profile.warnings)
    so_far: FoundSoFar | None = None  # set while discovery runs: what an interrupt must still save

    def build(complete: bool, unfinished: tuple[ErrorReason, str] = (
            ErrorReason.INTERRUPTED, "scan interrupted before this check ran")) -> ScanRun:
        results = list(state.results)
        if not complete:
            for index, planned in enumerate(plan.checks):
                if index not in state.done:
                    results.append(error_result(planned, *unfinished))
        return ScanRun(
            tool_version=__version__, run_id=run_id, client=request.client, profile=prof.name,
            started_at=started, finished_at=utcnow(), complete=complete, scope=scope_record,
            discovery=discovery, hosts=hosts, results=tuple(results), summary=summarize(results),
            warnings=tuple(warnings),
        )

    try:
        with scope_guard.enforce(scope):
            ctx = probe_context(request.profile, request.settings, request.nameservers, request.credentials, scope,
                                run_id)
            listening = _listen_from_the_start(request, registry, ctx)
            # mDNS announcements heard in the same window name hosts (RFC 6762; nothing is sent).
            mdns = MdnsListener(ctx.listen_seconds).start() if request.targets else None
            if request.targets:
                discover_fn = discover or _default_discover()
                so_far = FoundSoFar()
                found = discover_fn(scope, prof.discovery, prof.concurrency,
                                    on_progress=DiscoveryProgress(progress), found=so_far)
                # Names for the report (issue 17): PTR queries to the declared nameservers only.
                # An interrupt during them still saves what discovery found (so_far is kept until here).
                hosts, named = reverse_names(tuple(found.hosts), request.nameservers)
                # NetBIOS node status to each live (in-scope) address, bounded by its own budget.
                hosts, nb_named = netbios_names(hosts, total=min(NETBIOS_SECONDS, run_deadline - time.monotonic()))
                discovery = DiscoveryRecord(
                    engine=found.engine, host_discovery=found.host_discovery,
                    duration_s=round(found.duration_s, 3), addresses_in_scope=scope_record.resolved_addresses,
                    notes=tuple(found.notes) + tuple(n for n in (named, nb_named) if n),
                )
                so_far = None
            plan = plan_checks(registry, request.profile.check_ids, hosts, request.domains)
            finished = asyncio.run(execute_plan(plan, request.profile, state, sink.write, progress,
                                                request.settings, request.nameservers, request.credentials,
                                                scope, run_id, run_deadline, ctx=ctx, prestarted=listening))
            if request.targets:
                hosts, heard = mdns_names(hosts, mdns)
                if heard:
                    discovery = discovery.model_copy(update={"notes": (*discovery.notes, heard)})
    except KeyboardInterrupt:
        if so_far is not None:  # interrupted during discovery: keep the hosts and services found
            hosts = so_far.hosts()
            discovery = DiscoveryRecord(
                engine=so_far.engine, host_discovery=so_far.host_discovery(),
                addresses_in_scope=scope_record.resolved_addresses, notes=(so_far.note(),))
            warnings.append("the scan was interrupted during discovery: no check ran; every check planned "
                            "for the hosts found so far is error/interrupted")
            plan = plan_checks(registry, request.profile.check_ids, hosts, request.domains)
        sink.finish(build(complete=False))
        raise
    if not finished:
        budget = f"the run budget of {prof.timeouts.run:.0f} s (profile timeouts.run) was spent"
        warnings.append(f"{budget}: the watchdog ended the run; unfinished checks are error/timeout")
        run = build(complete=False, unfinished=(ErrorReason.TIMEOUT, f"not finished when {budget}"))
    else:
        run = build(complete=True)
    sink.finish(run)
    return run


def _listen_from_the_start(request: ScanRequest, registry: Registry, ctx: ProbeContext) -> PassiveListening | None:
    """Passive listening runs alongside discovery and probes (scanner.engine.passive): only a
    scan of addresses can have the network-level target these probes listen for."""
    if not request.targets:
        return None
    return start_passive_listening(registry, request.profile.check_ids, ctx)


class DiscoveryProgress:
    """Adapts discovery's ``on_progress(phase, done, total)`` to a ProgressReporter."""

    def __init__(self, progress: ProgressReporter) -> None:
        self.progress = progress
        self.started: set[str] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self.started:
            self.started.add(phase)
            self.progress.phase(phase, total)
        self.progress.advance(phase, done)
