"""Service identification: which protocol answers on an open TCP port, by what it speaks.

The port number is only where to start (``scanner.discovery.portmap``): SMTP on 2525, FTP on
2121 or an admin page on 8081 must reach the mail, FTP and web checks, and a port whose number
says one protocol while it speaks another (plain HTTP on 443, SSH on 25) must be routed by what
it speaks. Each open port gets a short plan of exchanges, one connection each, chosen by its
port-map name and stopping at the first conclusive answer:

- **listen**: read what the server says first. Greeting protocols name themselves (SSH, SMTP,
  FTP, POP3, IMAP, VNC, MySQL, Telnet, rsync; ``scanner.discovery.banners``). A bare "220" is
  both SMTP's and FTP's greeting: the server is asked FEAT and EHLO, which only FTP (211) or
  only SMTP (250) answers.
- **say**: send a client-first protocol's opening message (SMB, NetBIOS, RDP, PostgreSQL;
  ``scanner.discovery.hello_probes``) and test the answer.
- **tls**: a TLS handshake through memory BIOs, so the first bytes the server sends back are
  seen raw: a TLS record means TLS (then an HTTP HEAD is sent inside, and a greeting or an HTTP
  response names the wrapped protocol: https, smtps, imaps, pop3s, ftps, else "tls"), while a
  greeting or an HTTP error page instead means the port speaks that, in the clear.
- **http**: a HEAD request; a status line means HTTP (product from the Server header).

Whatever a step sends, its answer goes through every classifier: a greeting server answers
an SMB negotiate or a ClientHello with its banner first, so SSH on 445 is still SSH. Plans:
greeting ports listen first, then try TLS and HTTP; web and unknown ports try TLS, then HTTP
(port 80 the other way round); SMB, NetBIOS, RDP and PostgreSQL ports say their hello, then
TLS/HTTP only if the answer pointed there; other client-first ports (RPC, DNS, LDAP, databases)
listen briefly for a greeting and otherwise keep their port-map name, unconfirmed.

Every read is capped at ``MAX_READ`` bytes and every exchange has a timeout; timed-out connects
are retried a bounded number of times. A port whose exchanges all fail keeps its port-map name
(``identified_by="port-map"``): identification refines routing, it never removes an open port
the sweep established.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from scanner.discovery.banners import (
    BANNER_MAX,
    FTP_OR_SMTP_QUESTIONS,
    MAX_READ,
    Identification,
    classify_greeting,
    clean_banner,
    ftp_or_smtp,
    greeting_complete,
    greeting_part,
    is_bare_220,
    is_http_response,
    looks_like_tls,
    parse_http_response,
)
from scanner.discovery.bounded import run_per_host
from scanner.discovery.hello_probes import CLIENT_FIRST, HelloProbe, http_head
from scanner.discovery.portmap import PORT_SERVICES, UDP_PORT_SERVICES, map_only
from scanner.models import Service, Transport
from scanner.scope.guard import require_in_scope

__all__ = ["BANNER_MAX", "MAX_READ", "PORT_SERVICES", "UDP_PORT_SERVICES", "IdentifyTimeouts", "classify_greeting",
           "clean_banner", "identify", "identify_all", "map_only", "parse_http_response"]

# Services that greet first: their port is listened to before anything is sent.
GREETING_SERVICES = frozenset({"ftp", "ssh", "telnet", "smtp", "submission", "pop3", "imap", "vnc", "mysql", "rsync"})
# Implicit-TLS names, and the name a TLS-wrapped greeting gets.
TLS_NAMES = frozenset({"https", "smtps", "imaps", "pop3s", "ftps", "ldaps", "tls"})
TLS_VARIANT = {"smtp": "smtps", "submission": "smtps", "imap": "imaps", "pop3": "pop3s", "ftp": "ftps", "http": "https"}
# Port-map names a bare "220" may keep when the server answers neither FEAT nor EHLO.
_TWO_TWENTY = frozenset({"smtp", "submission", "ftp"})

_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
                              "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNEXPECTED_RECORD", "BAD_PACKET",
                              "UNKNOWN_PROTOCOL", "UNSUPPORTED_PROTOCOL"})


@dataclass(frozen=True)
class IdentifyTimeouts:
    """Seconds. ``greeting`` for a port whose number says it greets (SMTP may pause, RFC 5321
    §4.5.3.2 allows 5 minutes; postscreen waits 6 s: a slower greeting keeps the port-map
    name), ``unknown_greeting`` for a brief listen on other ports, ``exchange`` for a TLS
    handshake or the answer to anything sent."""

    connect: float = 5.0
    greeting: float = 3.0
    unknown_greeting: float = 1.0
    exchange: float = 3.0


@dataclass(frozen=True)
class _Observation:
    ident: Identification
    banner: str | None
    method: str  # "banner" | "probe" | "tls-handshake"


class _Unanswered(Exception):
    """The port could not be reached again (timeouts exhausted, refused, unreachable)."""


# Outcomes of a step besides an observation: nothing learnt, or a pointer to the next step.
_NOTHING, _SPEAKS_TLS, _SPEAKS_HTTP = "nothing", "tls", "http"
StepResult = _Observation | str


# ----------------------------------------------------------------------------- network I/O


def _tls_context() -> ssl.SSLContext:
    """Detection only: accept any certificate and the oldest protocol and ciphers OpenSSL
    still has (docs/lab-notes.md: TLS 1.0 needs @SECLEVEL=0). Judging TLS is the TLS checks' job."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
            ctx.minimum_version = ssl.TLSVersion.TLSv1
    except (ssl.SSLError, ValueError):
        pass
    return ctx


async def _open(address: str, port: int, timeouts: IdentifyTimeouts,
                retries: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, retrying only timed-out connects; ``_Unanswered`` when the port does not answer."""
    attempts = 0
    while True:
        attempts += 1
        try:
            async with asyncio.timeout(timeouts.connect):
                return await asyncio.open_connection(address, port, limit=MAX_READ * 2)
        except TimeoutError as exc:
            if attempts > retries:
                raise _Unanswered("connect timed out") from exc
        except OSError as exc:  # refused, unreachable, reset, no descriptor to spare
            raise _Unanswered(str(exc)) from exc


async def _read(reader: asyncio.StreamReader, timeout: float, done: Callable[[bytes], bool],
                already: bytes = b"") -> bytes:
    """Read until ``done(data)``, EOF, ``MAX_READ`` bytes or the timeout; returns what came."""
    data = already
    try:
        async with asyncio.timeout(timeout):
            while len(data) < MAX_READ and not (data and done(data)):
                chunk = await reader.read(MAX_READ - len(data))
                if not chunk:
                    break
                data += chunk
    except (TimeoutError, ConnectionError, OSError):
        pass
    return data[:MAX_READ]


def _close(writer: asyncio.StreamWriter) -> None:
    # abort() rather than close(): no wait for a peer that never reads, nothing left behind.
    writer.transport.abort()


def _head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or (not is_http_response(data) and greeting_complete(data))


# ----------------------------------------------------------------------------- classifying


def _greeting_observation(raw: bytes, hint: str | None, tls: bool = False) -> _Observation | None:
    ident = classify_greeting(raw, hint if hint in _TWO_TWENTY else None)
    if ident is None or ident.service is None:
        return None
    service = ident.service
    if service == "smtp" and hint == "submission":
        service = "submission"
    if tls:
        service = TLS_VARIANT.get(service, service)
    return _Observation(Identification(service, ident.product, ident.version), clean_banner(greeting_part(raw)),
                        "banner")


def _http_observation(raw: bytes, tls: bool) -> _Observation | None:
    is_http, product, version = parse_http_response(raw)
    if not is_http:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0]
    return _Observation(Identification("https" if tls else "http", product, version), clean_banner(head), "banner")


async def _two_twenty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes, hint: str | None,
                      timeouts: IdentifyTimeouts) -> _Observation | None:
    """A bare "220" greeting: ask FEAT and EHLO on the same connection (see banners.ftp_or_smtp)."""
    writer.write(FTP_OR_SMTP_QUESTIONS)
    replies = await _read(reader, timeouts.exchange, lambda d: ftp_or_smtp(d) is not None)
    answer = ftp_or_smtp(replies)
    if answer is None and hint in _TWO_TWENTY:
        answer = hint
    if answer is None:
        return None
    if answer == "smtp" and hint == "submission":
        answer = "submission"
    return _Observation(Identification(answer), clean_banner(greeting_part(raw)), "banner")


async def _plaintext(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes, hint: str | None,
                     timeouts: IdentifyTimeouts) -> StepResult:
    """Name what a server sent in the clear (a greeting, an HTTP answer, a TLS record)."""
    if is_bare_220(raw):
        return await _two_twenty(reader, writer, raw, hint, timeouts) or _NOTHING
    seen = _greeting_observation(raw, hint)
    if seen is not None:
        return seen
    if is_http_response(raw):
        return _SPEAKS_HTTP
    if looks_like_tls(raw):
        return _SPEAKS_TLS
    # Bytes that name nothing we know: kept as evidence (the banner), without a name.
    return _Observation(Identification(None), clean_banner(raw) or None, "banner")


# ----------------------------------------------------------------------------- the steps


async def _listen(address: str, port: int, hint: str | None, wait: float, timeouts: IdentifyTimeouts,
                  retries: int) -> StepResult:
    reader, writer = await _open(address, port, timeouts, retries)
    try:
        raw = await _read(reader, wait, greeting_complete)
        return await _plaintext(reader, writer, raw, hint, timeouts) if raw else _NOTHING
    finally:
        _close(writer)


async def _say(address: str, port: int, hint: str | None, probe: HelloProbe, timeouts: IdentifyTimeouts,
               retries: int) -> StepResult:
    reader, writer = await _open(address, port, timeouts, retries)
    try:
        writer.write(probe.payload)
        raw = await _read(reader, timeouts.exchange, lambda d: probe.matches(d) or greeting_complete(d))
        if probe.matches(raw):
            return _Observation(Identification(probe.name), None, "probe")
        return await _plaintext(reader, writer, raw, hint, timeouts) if raw else _NOTHING
    finally:
        _close(writer)


async def _http(address: str, port: int, hint: str | None, timeouts: IdentifyTimeouts, retries: int) -> StepResult:
    reader, writer = await _open(address, port, timeouts, retries)
    try:
        writer.write(http_head(address))
        raw = await _read(reader, timeouts.exchange, _head_complete)
        seen = _http_observation(raw, tls=False)
        if seen is not None:
            return seen
        return await _plaintext(reader, writer, raw, hint, timeouts) if raw else _NOTHING
    finally:
        _close(writer)


async def _tls(address: str, port: int, hint: str | None, timeouts: IdentifyTimeouts, retries: int) -> StepResult:
    """A TLS handshake whose server bytes are seen raw (memory BIOs), then a HEAD inside."""
    reader, writer = await _open(address, port, timeouts, retries)
    try:
        return await _tls_exchange(reader, writer, address, hint, timeouts)
    finally:
        _close(writer)


async def _tls_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str,
                        hint: str | None, timeouts: IdentifyTimeouts) -> StepResult:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = _tls_context().wrap_bio(incoming, outgoing)
    first = b""  # the server's first bytes, as they came
    speaks_tls = False
    tls_name = hint if hint in TLS_NAMES else "tls"
    try:
        async with asyncio.timeout(timeouts.exchange):
            while True:
                try:
                    session.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pass
                if outgoing.pending:
                    writer.write(outgoing.read())
                chunk = await reader.read(MAX_READ)
                if not chunk:
                    return _plaintext_or_nothing(first)
                if not speaks_tls:
                    first += chunk
                    if len(first) < 3:
                        continue
                    if not looks_like_tls(first):
                        # Not TLS: the server answered our ClientHello in its own protocol.
                        first = await _read(reader, min(1.0, timeouts.exchange), greeting_complete, first)
                        return await _plaintext(reader, writer, first, hint, timeouts)
                    speaks_tls = True
                    chunk = first
                incoming.write(chunk)
    except ssl.SSLError as exc:
        if speaks_tls or (exc.reason or "") not in _NOT_TLS_REASONS:
            # A TLS alert or a failed handshake: the port speaks TLS, it refused this session.
            return _Observation(Identification(tls_name), None, "tls-handshake")
        return _plaintext_or_nothing(first)
    except (TimeoutError, ConnectionError, OSError):
        if speaks_tls:
            return _Observation(Identification(tls_name), None, "tls-handshake")
        return _plaintext_or_nothing(first)
    if outgoing.pending:
        writer.write(outgoing.read())
    # Inside TLS the HEAD goes at once: an implicit-TLS greeter (IMAPS, POP3S, SMTPS, FTPS)
    # sends its greeting first anyway, and an HTTPS server answers the HEAD.
    session.write(http_head(address))
    writer.write(outgoing.read())
    inner = await _read_tls(reader, writer, session, incoming, outgoing, timeouts.exchange)
    seen = _greeting_observation(inner, hint, tls=True) or _http_observation(inner, tls=True)
    if seen is not None:
        return seen
    return _Observation(Identification(tls_name), None, "tls-handshake")


def _plaintext_or_nothing(raw: bytes) -> StepResult:
    """What bytes seen before a failed handshake say, without asking anything more."""
    if not raw:
        return _NOTHING
    if is_http_response(raw):
        return _SPEAKS_HTTP
    seen = _greeting_observation(raw, None)
    return seen if seen is not None else _NOTHING


async def _read_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: ssl.SSLObject,
                    incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, timeout: float) -> bytes:
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while len(data) < MAX_READ and not (data and _head_complete(data)):
                try:
                    data += session.read(MAX_READ - len(data))
                    continue
                except ssl.SSLWantReadError:
                    pass
                if outgoing.pending:
                    writer.write(outgoing.read())
                chunk = await reader.read(MAX_READ)
                if not chunk:
                    break
                incoming.write(chunk)
    except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
        pass
    return data[:MAX_READ]


# ----------------------------------------------------------------------------- plans

Step = Callable[[], Awaitable[StepResult]]


def _plan(address: str, port: int, hint: str | None, timeouts: IdentifyTimeouts,
          retries: int) -> list[tuple[str, Step]]:
    """(name, step) in the order they are tried for a port with this port-map name."""
    def listen(wait: float) -> tuple[str, Step]:
        return "listen", lambda: _listen(address, port, hint, wait, timeouts, retries)

    tls: tuple[str, Step] = ("tls", lambda: _tls(address, port, hint, timeouts, retries))
    http: tuple[str, Step] = ("http", lambda: _http(address, port, hint, timeouts, retries))
    if hint in GREETING_SERVICES:
        return [listen(timeouts.greeting), tls, http]
    if hint in CLIENT_FIRST:
        probe = CLIENT_FIRST[hint]
        return [("say", lambda: _say(address, port, hint, probe, timeouts, retries)), tls, http]
    if hint == "http" and port == 80:
        return [http, tls]
    if hint is None or hint in ("http", *TLS_NAMES):
        return [tls, http]
    # A client-first protocol without a hello of ours: a greeting would still name another one.
    return [listen(timeouts.unknown_greeting)]


async def _observe(address: str, port: int, hint: str | None, timeouts: IdentifyTimeouts,
                   retries: int) -> _Observation | None:
    plan = _plan(address, port, hint, timeouts, retries)
    follow: str | None = None
    for index, (name, step) in enumerate(plan):
        if follow is not None and name != follow:
            continue  # an earlier answer pointed at a later step: go straight there
        follow = None
        outcome = await step()
        if isinstance(outcome, _Observation):
            return outcome
        if outcome in (_SPEAKS_TLS, _SPEAKS_HTTP):
            follow = outcome
        elif name == "say" and index == 0:
            return None  # the hello got no answer we know: keep the port-map name
    return None


async def identify(
    address: str,
    port: int,
    *,
    timeouts: IdentifyTimeouts | None = None,
    retries: int = 2,
) -> Service:
    """Identify what answers on an open TCP port. Never raises for network conditions: a port
    that cannot be read keeps its port-map name. Raises ``OutOfScopeError`` when the address
    is outside the active scope."""
    require_in_scope(address)
    timeouts = timeouts or IdentifyTimeouts()
    hint = PORT_SERVICES.get(port)
    mapped = Service(port=port, transport=Transport.TCP, service=hint, identified_by="port-map" if hint else None)
    try:
        seen = await _observe(address, port, hint, timeouts, retries)
    except (_Unanswered, ssl.SSLError, ConnectionError, TimeoutError, OSError):
        return mapped
    if seen is None:
        return mapped
    if seen.ident.service is None:
        return mapped.model_copy(update={"banner": seen.banner or None})
    return Service(port=port, transport=Transport.TCP, service=seen.ident.service, product=seen.ident.product,
                   version=seen.ident.version, banner=seen.banner or None, identified_by=seen.method)


async def identify_all(
    open_ports: Mapping[str, Sequence[int]],
    *,
    global_limit: int,
    per_host: int,
    timeouts: IdentifyTimeouts | None = None,
    retries: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[Service]]:
    """Identify every open port of every host, under the global and per-host limits."""
    for address in open_ports:
        require_in_scope(address)
    results: dict[str, list[Service]] = {h: [] for h in open_ports}
    total = sum(len(p) for p in open_ports.values())
    done = 0

    async def one(host: str, port: int) -> bool:
        nonlocal done
        results[host].append(await identify(host, port, timeouts=timeouts, retries=retries))
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        return True

    work = [(h, list(p)) for h, p in open_ports.items()]
    await run_per_host(work, one, global_limit=global_limit, per_host=per_host)
    for services in results.values():
        services.sort(key=lambda s: s.port)
    return results


class IdentifyStream:
    """Identification of open ports as the sweep finds them, under the same global and
    per-host limits as ``identify_all``: a port is being named while the sweep goes on.
    ``add_threadsafe`` may be called from the sweep's thread; ``finish`` returns the services."""

    def __init__(self, *, global_limit: int, per_host: int, timeouts: IdentifyTimeouts | None = None,
                 retries: int = 2, on_service: Callable[[str, Service], None] | None = None) -> None:
        """``on_service(address, service)``: called as each port is named (an interrupted
        discovery keeps what was named, ``scanner.discovery.found``)."""
        self._loop = asyncio.get_running_loop()
        self._on_service = on_service
        self._queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._limit = max(1, per_host)
        self._timeouts, self._retries = timeouts, retries
        self.results: dict[str, list[Service]] = {}
        self.added = 0
        self._workers = [asyncio.create_task(self._work()) for _ in range(max(1, global_limit))]

    def add(self, address: str, port: int) -> None:
        require_in_scope(address)
        self.added += 1
        self._queue.put_nowait((address, port))

    def add_threadsafe(self, address: str, port: int) -> None:
        self._loop.call_soon_threadsafe(self.add, address, port)

    async def _work(self) -> None:
        while (item := await self._queue.get()) is not None:
            address, port = item
            semaphore = self._per_host.setdefault(address, asyncio.Semaphore(self._limit))
            async with semaphore:
                service = await identify(address, port, timeouts=self._timeouts, retries=self._retries)
            self.results.setdefault(address, []).append(service)
            if self._on_service is not None:
                self._on_service(address, service)

    async def finish(self) -> dict[str, list[Service]]:
        """Wait for every port added so far (the sweep is over), then stop the workers."""
        await asyncio.sleep(0)  # ports handed over with call_soon_threadsafe are queued by now
        for _ in self._workers:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._workers)
        for services in self.results.values():
            services.sort(key=lambda s: s.port)
        return self.results

    def cancel(self) -> None:
        for worker in self._workers:
            worker.cancel()

