"""Passive listening from the first second of a scan.

A listening probe (``Probe.listens``: the cloud-sync capture) waits out a window (65 s in the
onboarding profile: two 30 s announcement intervals plus a margin) and sends nothing. Run after
discovery like any other probe, it would add its whole window to every scan; started before
discovery, in a thread of its own, it hears the network while hosts are found and probed, and
a scan costs max(window, active work) instead of their sum.

Only the probes of enabled network-level checks (``Applies(network=True)``) that apply to the
network target are started early, and only when the scan has addresses to discover and the
profile has a window. The runner hands each one's future to the probe executor, which then
treats it as that probe's run for the network target (``ProbeExecutor(prestarted=...)``): the
probe's later callers (a sync port's target) share its capture as before, because the capture
is the run's (keyed by the context's run id). The threads are daemons: a scan that ends early (nothing
found) does not wait for a window nobody will read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.check import Probe, ProbeContext
from scanner.engine.planner import NETWORK_TARGET
from scanner.engine.registry import RegisteredCheck


@dataclass
class PassiveListening:
    """Listening probes already running for the network target, keyed by probe class."""

    started_at: float = field(default_factory=time.monotonic)
    futures: dict[type[Probe[Any]], Future[Any]] = field(default_factory=dict)

    def get(self, probe: type[Probe[Any]]) -> Future[Any] | None:
        return self.futures.get(probe)


def listening_probes(checks: Iterable[RegisteredCheck], enabled: set[str]) -> list[type[Probe[Any]]]:
    """The listening probes of the enabled network-level checks, each once, in check order."""
    found: dict[type[Probe[Any]], None] = {}
    for check in checks:
        if check.id not in enabled or not check.meta.applies_to.network:
            continue
        for probe in check.cls.probes:
            if probe.listens and probe.applies(NETWORK_TARGET):
                found[probe] = None
    return list(found)


def start_passive_listening(checks: Iterable[RegisteredCheck], enabled: Iterable[str],
                            ctx: ProbeContext) -> PassiveListening:
    """Start every listening probe of the enabled network-level checks now (see module doc)."""
    listening = PassiveListening()
    if ctx.listen_seconds <= 0:
        return listening
    for probe in listening_probes(checks, set(enabled)):
        future: Future[Any] = Future()

        def run(probe: type[Probe[Any]] = probe, future: Future[Any] = future) -> None:
            if not future.set_running_or_notify_cancel():
                return
            # The call's own deadline, as the executor gives every probe call (ProbeContext.remaining).
            budget = ctx.timeouts.probe + ctx.listen_seconds + probe.extra_seconds
            try:
                future.set_result(probe().collect(NETWORK_TARGET, replace(ctx, deadline=time.monotonic() + budget)))
            except BaseException as exc:  # handed to the executor, which makes it a result
                future.set_exception(exc)

        threading.Thread(target=run, name=f"listen-{probe.name or probe.__name__}", daemon=True).start()
        listening.futures[probe] = future
    return listening
