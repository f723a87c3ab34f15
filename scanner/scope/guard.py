"""The guard that refuses every packet outside the authorized scope.

It is enforced below every library: a CPython audit hook (PEP 578) sees each
``socket.connect``/``sendto``/``sendmsg`` of this process — our own code, smtplib, impacket,
paramiko, dnspython alike — and raises ``OutOfScopeError`` before the packet leaves when the
destination is not in the active scope.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scanner.errors import OutOfScopeError
from scanner.scope.targets import Scope

_active_lock = threading.Lock()
_active_scope: Scope | None = None
_hook_installed = False
_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
# Destinations already found in the active scope. The scope cannot change while it is enforced,
# so the verdict cannot either; a sweep sends up to a million packets to a few hundred
# addresses, and parsing each address again would cost a third of the sweep. Bounded, and
# emptied whenever a scope is activated or released.
_allowed: set[str] = set()
_ALLOWED_MAX = 65536


def _destination(args: tuple[Any, ...]) -> str | None:
    """The IP of a socket.connect/sendto/sendmsg audit event, or None for non-IP sockets."""
    sock, address = args[0], args[1]
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return None
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    scope = _active_scope
    if scope is None or event not in _EVENTS:
        return
    if len(args) > 1 and type(args[1]) is tuple and args[1] and args[1][0] in _allowed:
        return  # an IP address already found in scope (only those are cached)
    # sendmsg(sock, address): address is None on a connected socket (already checked at connect).
    if event == "socket.sendmsg" and (len(args) < 2 or args[1] is None):
        return
    host = _destination(args)
    if host is None or host in _allowed:
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError as exc:
        # A name here would be resolved by C code we cannot see: refuse, probes pass addresses.
        raise OutOfScopeError(f"refused to connect to unresolved name {host!r} during a scan") from exc
    if not scope.may_contact(host.split("%", 1)[0]):
        raise OutOfScopeError(f"refused to send to {host}: outside the authorized scope")
    if len(_allowed) < _ALLOWED_MAX and scope is _active_scope:
        _allowed.add(host)


@contextmanager
def enforce(scope: Scope) -> Iterator[Scope]:
    """Activate the guard for the duration of a scan (one active scope per process)."""
    global _active_scope, _hook_installed
    with _active_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
        if _active_scope is not None:
            raise RuntimeError("a scan scope is already being enforced in this process")
        _allowed.clear()
        _active_scope = scope
    try:
        yield scope
    finally:
        with _active_lock:
            _active_scope = None
            _allowed.clear()


def active_scope() -> Scope | None:
    return _active_scope


def require_in_scope(address: str) -> None:
    """Explicit check for traffic the audit hook cannot see (raw/L2 sockets, subprocesses)."""
    scope = _active_scope
    if scope is None or not scope.may_contact(address):
        raise OutOfScopeError(f"refused to send to {address}: outside the authorized scope")


