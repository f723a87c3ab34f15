"""A small ONC RPC client: XDR (RFC 4506), RPC v2 messages (RFC 5531) over TCP with record
marking (RFC 5531 §11), portmapper GETPORT (RFC 1833 §3.2) and MOUNT v3 EXPORT (RFC 1813 App. I).

Enough to list an NFS server's exports the way ``showmount -e`` does, and nothing more: no
MNT call, nothing is ever mounted. Every length read off the wire is checked against a cap and
against the bytes actually received, so a hostile server gets a ``ProtocolError``, not memory.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from dataclasses import dataclass

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error

PMAP_PROG, PMAP_VERS, PMAPPROC_GETPORT = 100000, 2, 3
MOUNT_PROG, MOUNT_VERS, MOUNTPROC3_EXPORT = 100005, 3, 5
IPPROTO_TCP = 6
AUTH_NONE, AUTH_SYS = 0, 1
MNTPATHLEN, MNTNAMLEN = 1024, 255  # RFC 1813 App. I limits for dirpath and group names
MAX_RECORD = 1024 * 1024  # an export list of thousands of entries still fits
MAX_FRAGMENTS = 64
MAX_ENTRIES = 4096

# RFC 5531 §9: accept_stat and reject_stat values, for error messages.
ACCEPT_STAT = {1: "PROG_UNAVAIL", 2: "PROG_MISMATCH", 3: "PROC_UNAVAIL", 4: "GARBAGE_ARGS", 5: "SYSTEM_ERR"}
AUTH_STAT = {1: "AUTH_BADCRED", 2: "AUTH_REJECTEDCRED", 3: "AUTH_BADVERF", 4: "AUTH_REJECTEDVERF",
             5: "AUTH_TOOWEAK", 6: "AUTH_INVALIDRESP", 7: "AUTH_FAILED"}


class RpcAuthError(ProtocolError):
    """MSG_DENIED / AUTH_ERROR: the server wants other credentials (the caller may retry)."""


class XdrWriter:
    """XDR encoding (RFC 4506): big-endian 4-byte units, opaque data padded to 4 bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def uint(self, value: int) -> XdrWriter:
        self.parts.append(struct.pack(">I", value))
        return self

    def opaque(self, data: bytes) -> XdrWriter:
        self.uint(len(data))
        self.parts.append(data + b"\x00" * ((-len(data)) % 4))
        return self

    def string(self, text: str) -> XdrWriter:
        return self.opaque(text.encode("utf-8"))

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class XdrReader:
    """XDR decoding that refuses to read past the end or accept over-long items."""

    def __init__(self, data: bytes, what: str = "RPC") -> None:
        self.data, self.pos, self.what = data, 0, what

    def uint(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ProtocolError(f"{self.what}: reply truncated at byte {self.pos}")
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def boolean(self) -> bool:
        value = self.uint()
        if value > 1:
            raise ProtocolError(f"{self.what}: XDR bool of {value} at byte {self.pos - 4}")
        return value == 1

    def opaque(self, limit: int) -> bytes:
        size = self.uint()
        if size > limit:
            raise ProtocolError(f"{self.what}: item of {size} bytes exceeds the limit of {limit}")
        end = self.pos + size + (-size) % 4
        if end > len(self.data):
            raise ProtocolError(f"{self.what}: item of {size} bytes runs past the end of the reply")
        value = self.data[self.pos:self.pos + size]
        self.pos = end
        return value

    def string(self, limit: int) -> str:
        return self.opaque(limit).decode("utf-8", "replace")


def call_message(xid: int, prog: int, vers: int, proc: int, args: bytes, *, auth: int = AUTH_NONE) -> bytes:
    """An RPC CALL (RFC 5531 §9): AUTH_NONE, or AUTH_SYS as uid/gid 65534 ("nobody")."""
    msg = XdrWriter().uint(xid).uint(0).uint(2).uint(prog).uint(vers).uint(proc)
    if auth == AUTH_SYS:  # RFC 5531 App. A authsys_parms: stamp, machinename, uid, gid, gids
        cred = XdrWriter().uint(0).string("gapscan").uint(65534).uint(65534).uint(0).bytes()
        msg.uint(AUTH_SYS).opaque(cred)
    else:
        msg.uint(AUTH_NONE).opaque(b"")
    msg.uint(AUTH_NONE).opaque(b"")  # verifier
    return msg.bytes() + args


def parse_reply(xid: int, data: bytes, what: str) -> XdrReader:
    """Check an RPC REPLY header; return a reader positioned at the procedure's results."""
    reader = XdrReader(data, what)
    if reader.uint() != xid:
        raise ProtocolError(f"{what}: reply for another call (xid mismatch)")
    if reader.uint() != 1:
        raise ProtocolError(f"{what}: message is not a REPLY")
    if reader.uint() == 1:  # MSG_DENIED
        reject = reader.uint()
        if reject == 1:
            stat = reader.uint()
            raise RpcAuthError(f"{what}: call denied, {AUTH_STAT.get(stat, f'auth_stat {stat}')}")
        raise ProtocolError(f"{what}: call denied (RPC_MISMATCH)")
    reader.uint()  # verifier flavor
    reader.opaque(400)  # verifier body (RFC 5531: at most 400 bytes)
    stat = reader.uint()
    if stat != 0:
        raise ProtocolError(f"{what}: {ACCEPT_STAT.get(stat, f'accept_stat {stat}')}")
    return reader


def record(message: bytes) -> bytes:
    """One record in one fragment: the high bit marks the last fragment (RFC 5531 §11)."""
    return struct.pack(">I", 0x80000000 | len(message)) + message


@dataclass(frozen=True)
class Export:
    """One MOUNT export: its path and the client groups it is exported to (empty = everyone)."""

    path: str
    groups: tuple[str, ...]


def decode_exports(reader: XdrReader) -> tuple[Export, ...]:
    """MOUNTPROC3_EXPORT results: a linked list of exportnode, each with a list of groupnode."""
    exports: list[Export] = []
    while reader.boolean():
        path = reader.string(MNTPATHLEN)
        groups: list[str] = []
        while reader.boolean():
            groups.append(reader.string(MNTNAMLEN))
            if len(groups) > MAX_ENTRIES:
                raise ProtocolError(f"{reader.what}: more than {MAX_ENTRIES} groups on one export")
        exports.append(Export(path, tuple(groups)))
        if len(exports) > MAX_ENTRIES:
            raise ProtocolError(f"{reader.what}: more than {MAX_ENTRIES} exports")
    return tuple(exports)


class RpcClient:
    """One TCP connection to one RPC service; every wait bounded by the read timeout and a deadline."""

    def __init__(self, host: str, port: int, *, connect_timeout: float, read_timeout: float, deadline: float,
                 what: str) -> None:
        self.what, self.read_timeout, self.deadline = what, read_timeout, deadline
        try:
            self.sock = socket.create_connection((host, port), timeout=self._wait(connect_timeout))
        except ProbeTimeout:
            raise
        except Exception as exc:
            raise translate_os_error(exc, f"{what}: connect to {host}:{port}") from exc

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _wait(self, limit: float) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(f"{self.what}: probe deadline reached")
        return min(limit, remaining)

    def call(self, prog: int, vers: int, proc: int, args: bytes = b"", *, auth: int = AUTH_NONE) -> XdrReader:
        xid = struct.unpack(">I", os.urandom(4))[0]
        try:
            self.sock.sendall(record(call_message(xid, prog, vers, proc, args, auth=auth)))
        except Exception as exc:
            raise translate_os_error(exc, f"{self.what}: send") from exc
        return parse_reply(xid, self._read_record(), self.what)

    def _read_record(self) -> bytes:
        message = b""
        for _ in range(MAX_FRAGMENTS):
            (marker,) = struct.unpack(">I", self._read_exact(4))
            size, last = marker & 0x7FFFFFFF, bool(marker & 0x80000000)
            if len(message) + size > MAX_RECORD:
                raise ProtocolError(f"{self.what}: reply record larger than {MAX_RECORD} bytes")
            message += self._read_exact(size)
            if last:
                return message
        raise ProtocolError(f"{self.what}: reply split into more than {MAX_FRAGMENTS} fragments")

    def _read_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            self.sock.settimeout(self._wait(self.read_timeout))
            try:
                chunk = self.sock.recv(min(size - len(data), 65536))
            except Exception as exc:
                raise translate_os_error(exc, f"{self.what}: read") from exc
            if not chunk:
                raise ProtocolError(f"{self.what}: connection closed by the server mid-reply")
            data += chunk
        return data


def getport(client: RpcClient, prog: int, vers: int) -> int:
    """PMAPPROC_GETPORT for (prog, vers, TCP): the port, 0 when not registered (RFC 1833 §3.2)."""
    args = XdrWriter().uint(prog).uint(vers).uint(IPPROTO_TCP).uint(0).bytes()
    port = client.call(PMAP_PROG, PMAP_VERS, PMAPPROC_GETPORT, args).uint()
    if port > 65535:
        raise ProtocolError(f"{client.what}: GETPORT returned {port}, not a port")
    return port


def mount_exports(client: RpcClient) -> tuple[tuple[Export, ...], str]:
    """MOUNTPROC3_EXPORT; AUTH_NONE first, AUTH_SYS (as nobody) if the server insists. (exports, flavor)"""
    try:
        return decode_exports(client.call(MOUNT_PROG, MOUNT_VERS, MOUNTPROC3_EXPORT)), "AUTH_NONE"
    except RpcAuthError:
        pass
    return decode_exports(client.call(MOUNT_PROG, MOUNT_VERS, MOUNTPROC3_EXPORT, auth=AUTH_SYS)), "AUTH_SYS"
