"""The plugin API: probes do the I/O, checks judge the facts.

A ``Probe`` runs once per target however many checks need it, returns a frozen facts object,
and raises a ``ProbeError`` when it cannot establish the facts (never a comforting default).
A ``Check`` is pure: ``evaluate(target, facts)`` yields ``Finding`` (PASS and FAIL alike) or
``Skip`` objects and performs no I/O, so a saved run can be re-judged and every check is
unit-tested with hand-built facts.
"""

from __future__ import annotations

import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanner.credentials import CredentialStore
from scanner.errors import ProbeTimeout
from scanner.models import (
    ErrorReason,
    Evidence,
    Finding,
    InstalledSoftware,
    Severity,
    Skip,
    SkipReason,
    Target,
    ThirdParty,
    Undetermined,
)

FactsT = TypeVar("FactsT")
SettingsT = TypeVar("SettingsT", bound="CheckSettings")

CHECK_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class TimeoutConfig(BaseModel):
    """Seconds. Every I/O call takes one of these; the runner only records overruns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=3.0, gt=0, le=120)
    read: float = Field(default=5.0, gt=0, le=300)
    probe: float = Field(default=30.0, gt=0, le=3600)
    # Extra attempts of a probe that failed with timeout/unreachable (a dropped SYN, a busy
    # daemon); never for other errors, where a second try would only hammer a fragile device.
    retries: int = Field(default=1, ge=0, le=5)
    # The whole run's wall-clock budget: past it a watchdog ends the run, records every unfinished
    # pair as error/timeout and saves what was found (a scheduled rescan must always return).
    run: float = Field(default=4 * 3600.0, gt=0, le=7 * 86400)


class Applies(BaseModel):
    """Which targets a check is planned for.

    ``services``: routing names from discovery (smtp, smb, ...) — one target per open service.
    ``domains``: one target per ``--domain``. ``hosts``: one target per live host.
    ``network``: one target per scan of addresses that found a live host,
    ``Target(service="network")`` — for passive listening on the scanner's own segment.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    services: frozenset[str] = frozenset()
    domains: bool = False
    hosts: bool = False
    network: bool = False

    @field_validator("services", mode="before")
    @classmethod
    def _to_frozenset(cls, value: Any) -> Any:
        return frozenset(value) if isinstance(value, set | list | tuple) else value


class CheckSettings(BaseModel):
    """The base of a check's declared settings: what a profile may set under
    ``settings: {<check id>: {...}}``. Subclass it with typed fields, each with a default (a profile
    that says nothing gets the defaults) and bounds where a value can be nonsense, and name the
    subclass in ``CheckMeta.settings_model``. The profile loader validates against it: an unknown
    key or a wrong type is an input error naming the file, the line and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckMeta(BaseModel):
    """Everything a person reads about a check, in one place, validated by the registry.

    ``id`` is API: history and decisions key on it forever. ``title`` states the gap. ``why`` says,
    in plain words a practice owner understands (1-3 sentences, no jargon), what the gap means for
    patient information; the report prints it beside every finding. ``remediation`` is what the
    technician does. ``description`` is how the check finds out. The HIPAA citations are not
    here: the framework file (profiles/frameworks/hipaa.yaml) owns them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=CHECK_ID_PATTERN.pattern, max_length=64)
    title: str = Field(min_length=5, max_length=100)
    severity: Severity
    applies_to: Applies
    intrusive: bool = False
    why: str = Field(min_length=60, max_length=600)
    remediation: str = Field(min_length=10)
    description: str = ""
    # The schema of the profile's ``settings: {<check id>: ...}`` for this check (a CheckSettings
    # subclass), or None: the check takes no settings and a profile that gives some is refused.
    settings_model: type[CheckSettings] | None = None

    @field_validator("why")
    @classmethod
    def _plain_sentences(cls, value: str) -> str:
        text = " ".join(value.split())
        sentences = len(re.findall(r"[.!?](?:\s|$)", text))
        if not 1 <= sentences <= 3:
            raise ValueError(f"'why' must be 1 to 3 whole sentences for a practice owner, found {sentences}")
        return text


class ScopeView(Protocol):
    """What a probe may ask of the authorized scope: is this address one we may judge?

    (The guard that refuses packets is below every library; a passive probe, which sends
    nothing, uses this to leave out what it overheard from hosts outside the scope.)"""

    def contains(self, address: str) -> bool: ...


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may use: its timeouts and the run's settings. No check state.

    ``nameservers`` are the DNS servers the user named (``--nameserver``); the scope guard lets
    a scan talk to them and to nothing else, so DNS probes must query exactly these.
    ``listen_seconds`` is the profile's passive listening window.
    """

    timeouts: TimeoutConfig
    intrusive_allowed: bool = False
    # The run's own settings (``dkim_selectors`` from the command line). A profile's per-check
    # settings are not here: they go, validated, to the check (``Check.settings_as``).
    settings: Mapping[str, Any] | None = None
    nameservers: tuple[str, ...] = ()
    listen_seconds: float = 0.0  # the profile's passive listening window (0: do not listen)
    # The resolved credentials file (--credentials) for the endpoint collectors; never serialised.
    credentials: CredentialStore | None = None
    # The run's authorized scope (None outside a scan, e.g. a unit test: then nothing is filtered).
    scope: ScopeView | None = None
    # Set by the runner for each probe call: the monotonic time by which the probe must have
    # returned (its whole budget, not a per-read timeout). None outside the runner.
    deadline: float | None = None
    # Identifies the run, for probes that share one piece of work across targets (a capture).
    run_id: str = ""

    def remaining(self, cap: float | None = None) -> float:
        """Seconds left before this probe's deadline, at most ``cap``: what every socket
        operation may wait. Raises ``ProbeTimeout`` once nothing is left."""
        left = math.inf if self.deadline is None else self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeTimeout("the probe's deadline has passed")
        return min(left, cap) if cap is not None else left

    def until(self, cap: float) -> float:
        """The monotonic time by which a probe's own exchange must end: ``cap`` seconds from now
        (usually ``timeouts.probe``), or the runner's deadline when that comes first."""
        return time.monotonic() + self.remaining(cap)


class Probe(ABC, Generic[FactsT]):
    """Collects the facts about one target. All I/O lives here, each call with a timeout."""

    #: Short stable name, used in evidence ``method`` and in error messages.
    name: ClassVar[str] = ""
    #: A passive probe that listens for ``ctx.listen_seconds``: the runner adds that window to
    #: its deadline (``timeouts.probe`` then bounds only what comes after the listening).
    listens: ClassVar[bool] = False
    #: Seconds the runner allows on top of ``timeouts.probe``: for probes that run a bounded series
    #: of exchanges (a credentialed collection runs ~20 commands, each with its own timeout).
    extra_seconds: ClassVar[float] = 0.0

    @abstractmethod
    def collect(self, target: Target, ctx: ProbeContext) -> FactsT:
        """Return frozen facts or raise ``ProbeError``. Must honour ``ctx.timeouts`` itself:
        the runner cannot kill a thread, it can only record that the probe overran."""

    @classmethod
    def applies(cls, target: Target) -> bool:
        """Planning hook: False when this probe can never run against the target."""
        return True


class Check(ABC):
    """A pure judgement from facts to findings. Subclasses set ``meta`` and ``probes``."""

    meta: ClassVar[CheckMeta]
    probes: ClassVar[tuple[type[Probe[Any]], ...]] = ()

    def __init__(self, settings: CheckSettings | None = None) -> None:
        """``settings``: the profile's validated settings for this check (an instance of
        ``meta.settings_model``); None means the declared defaults."""
        model = self.meta.settings_model
        if settings is not None and (model is None or not isinstance(settings, model)):
            raise TypeError(f"{self.meta.id} takes {model.__name__ if model else 'no settings'}, "
                            f"not {type(settings).__name__}")
        self._settings = settings

    def settings_as(self, model: type[SettingsT]) -> SettingsT:
        """This check's settings, typed: the profile's values, or ``model``'s defaults when the
        profile gives none. ``model`` must be the check's ``meta.settings_model``."""
        if self.meta.settings_model is not model:
            raise TypeError(f"{self.meta.id} declares {self.meta.settings_model!r} as its settings, not {model!r}")
        return self._settings if isinstance(self._settings, model) else model()

    @abstractmethod
    def evaluate(
        self, target: Target, facts: Mapping[type[Probe[Any]], Any]
    ) -> Iterable[Finding | Skip | Undetermined]:
        """Yield at least one Finding, Skip or Undetermined. No I/O here."""

    # Helpers that keep check modules short.
    def finding(
        self,
        target: Target,
        *,
        passed: bool,
        detail: str,
        evidence: Iterable[Evidence] = (),
        discriminator: str = "",
        severity: Severity | None = None,
        third_parties: Iterable[ThirdParty] = (),
        software: Iterable[InstalledSoftware] = (),
    ) -> Finding:
        return Finding(
            target=target,
            passed=passed,
            detail=detail,
            evidence=tuple(evidence),
            discriminator=discriminator,
            severity=severity,
            third_parties=tuple(third_parties),
            software=tuple(software),
        )

    def skip(self, target: Target, reason: SkipReason, detail: str) -> Skip:
        return Skip(target=target, reason=reason, detail=detail)

    def undetermined(self, target: Target, reason: ErrorReason, detail: str,
                     evidence: Iterable[Evidence] = (), discriminator: str = "") -> Undetermined:
        return Undetermined(target=target, reason=reason, detail=detail, evidence=tuple(evidence),
                            discriminator=discriminator)


class SingleProbeCheck(Check, Generic[FactsT]):
    """A check judged from the facts of one probe: its metadata, ``probe`` and a typed ``judge``.

    ``probes`` is derived from ``probe``, and ``judge`` receives that probe's facts already typed
    (``FactsT``), so a typical check is::

        class SmtpStarttlsMissing(SingleProbeCheck[SmtpEhloFacts]):
            meta = CheckMeta(...)
            probe = SmtpEhlo

            def judge(self, target: Target, facts: SmtpEhloFacts) -> Iterator[Finding]:
                yield self.finding(target, passed=facts.starttls_offered, detail=..., evidence=[...])

    A check that needs several probes' facts implements ``Check.evaluate`` itself.
    """

    # Not a ClassVar (a ClassVar may not hold a type variable): typed so that mypy checks that the
    # probe's facts are the ``FactsT`` that ``judge`` takes.
    probe: type[Probe[FactsT]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        probe = cls.__dict__.get("probe")
        if probe is not None:
            cls.probes = (probe,)

    def evaluate(
        self, target: Target, facts: Mapping[type[Probe[Any]], Any]
    ) -> Iterable[Finding | Skip | Undetermined]:
        return self.judge(target, facts[self.probe])

    @abstractmethod
    def judge(self, target: Target, facts: FactsT) -> Iterable[Finding | Skip | Undetermined]:
        """Yield at least one Finding, Skip or Undetermined from the probe's facts. No I/O here."""
