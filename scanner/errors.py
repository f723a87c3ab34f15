"""One exception hierarchy for the whole scanner.

Library exceptions (socket, dnspython, paramiko, impacket, nmap) are translated into these at
the probe boundary, keeping the original as ``__cause__``. The runner turns a ``ProbeError``
into an ``error`` result carrying its reason code; the CLI turns an ``InputError`` into a
one-paragraph message and exit code 2.
"""

from __future__ import annotations

import errno
import socket
import ssl

from scanner.models import ErrorReason


class GapscanError(Exception):
    """Base of every exception the scanner raises on purpose."""


class InputError(GapscanError):
    """Something a user wrote (file, option, argument) is wrong. CLI exit code 2."""

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None) -> None:
        self.source = source
        self.where = where
        prefix = ""
        if source:
            prefix = f"{source}"
            if where:
                prefix += f", {where}"
            prefix += ": "
        super().__init__(prefix + message)


class TamperError(GapscanError):
    """A stored record no longer matches its digest, its chain, its signature or an anchor kept
    outside the database. CLI exit code 4."""


class OutOfScopeError(GapscanError):
    """The scanner was about to send a packet to an address outside the authorized scope."""

    reason = ErrorReason.OUT_OF_SCOPE


class ProbeError(GapscanError):
    """A probe could not establish its facts. Never a comforting default: an error result."""

    reason: ErrorReason = ErrorReason.PROTOCOL

    def __init__(self, message: str, reason: ErrorReason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ProbeTimeout(ProbeError):
    reason = ErrorReason.TIMEOUT


class ProbeUnreachable(ProbeError):
    reason = ErrorReason.UNREACHABLE


class ProbeRefused(ProbeError):
    reason = ErrorReason.REFUSED


class ProtocolError(ProbeError):
    """The peer answered, but not in the protocol we expected (garbage, truncated, hostile)."""

    reason = ErrorReason.PROTOCOL


class ProbePermissionError(ProbeError):
    reason = ErrorReason.PERMISSION


class MissingDependency(ProbeError):
    reason = ErrorReason.MISSING_DEPENDENCY


_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def translate_os_error(exc: BaseException, what: str) -> ProbeError:
    """Map a socket-level exception to the scanner's hierarchy (call inside ``except``)."""
    if isinstance(exc, OutOfScopeError):
        return ProbeError(f"{what}: {exc}", ErrorReason.OUT_OF_SCOPE)
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return ProbeTimeout(f"{what}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return ProbeRefused(f"{what}: connection refused")
    if isinstance(exc, ssl.SSLError):
        return ProtocolError(f"{what}: TLS error: {exc.reason or exc}")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ProtocolError(f"{what}: connection closed by peer ({exc.__class__.__name__})")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return ProbeUnreachable(f"{what}: {exc.strerror or exc}")
    if isinstance(exc, PermissionError):
        return ProbePermissionError(f"{what}: {exc}")
    if isinstance(exc, OSError):
        return ProbeUnreachable(f"{what}: {exc.strerror or exc}")
    return ProtocolError(f"{what}: {exc.__class__.__name__}: {exc}")
