"""The ONC RPC / XDR client on recorded bytes of the lab's real nfs-ganesha + rpcbind, the NFS probe
against loopback RPC servers replaying them, and hostile servers that must end in a ProbeError."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from checks.nfs import rpc
from checks.nfs.probe import NfsExports
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Target, Transport
from tests.unit.helpers import tcp_server

# RPC reply records (record marker stripped) recorded from the lab on 2026-11-22, inside gs-scan:
# rpcbind 1.2.6 and nfs-ganesha 4.3 (FSAL VFS) on files-weak 198.18.0.10 (/srv to *) and
# files-good 198.18.0.11 (/srv to 198.18.0.40 and 198.18.0.100), answering checks/nfs/rpc.py's
# own calls made with fixed xids: GETPORT(100005, 3, tcp) -> 20048, and MOUNTPROC3_EXPORT.
GETPORT_XID, EXPORT_XID = 0x1A2B3C4D, 0x5E6F7081
GETPORT_REPLY = bytes.fromhex("1a2b3c4d000000010000000000000000000000000000000000004e50")
WEAK_EXPORT_REPLY = bytes.fromhex(
    "5e6f7081000000010000000000000000000000000000000000000001000000042f73727600000001000000012a0000000000000000"
    "000000")
GOOD_EXPORT_REPLY = bytes.fromhex(
    "5e6f7081000000010000000000000000000000000000000000000001000000042f737276000000010000000e3139382e31382e302e"
    "34302f33320000000000010000000f3139382e31382e302e3130302f3332000000000000000000")


def test_decode_recorded_getport() -> None:
    assert rpc.parse_reply(GETPORT_XID, GETPORT_REPLY, "pmap").uint() == 20048


def test_decode_recorded_exports() -> None:
    weak = rpc.decode_exports(rpc.parse_reply(EXPORT_XID, WEAK_EXPORT_REPLY, "mount"))
    good = rpc.decode_exports(rpc.parse_reply(EXPORT_XID, GOOD_EXPORT_REPLY, "mount"))
    assert weak == (rpc.Export("/srv", ("*",)),)
    assert good == (rpc.Export("/srv", ("198.18.0.40/32", "198.18.0.100/32")),)


def test_encoder_round_trips_what_the_decoder_reads() -> None:
    body = (rpc.XdrWriter().uint(1).string("/srv").uint(1).string("*").uint(0)
            .uint(1).string("/home").uint(0).uint(0).bytes())
    assert rpc.decode_exports(rpc.XdrReader(body)) == (rpc.Export("/srv", ("*",)), rpc.Export("/home", ()))
    assert rpc.XdrWriter().string("abcde").bytes() == b"\x00\x00\x00\x05abcde\x00\x00\x00"


def test_call_message_layout_rfc5531() -> None:
    msg = rpc.call_message(7, rpc.MOUNT_PROG, 3, rpc.MOUNTPROC3_EXPORT, b"")
    assert struct.unpack(">10I", msg) == (7, 0, 2, 100005, 3, 5, 0, 0, 0, 0)
    auth_sys = rpc.call_message(7, rpc.MOUNT_PROG, 3, 5, b"", auth=rpc.AUTH_SYS)
    assert struct.unpack_from(">I", auth_sys, 24)[0] == rpc.AUTH_SYS
    assert rpc.record(b"abcd") == b"\x80\x00\x00\x04abcd"


@pytest.mark.parametrize("data, match", [
    (GETPORT_REPLY[:-2], "truncated"),
    (struct.pack(">I", 99) + GETPORT_REPLY[4:], "xid"),
    (GETPORT_REPLY[:4] + struct.pack(">III", 1, 1, 1) + struct.pack(">I", 5), "AUTH_TOOWEAK"),
    (GETPORT_REPLY[:4] + struct.pack(">IIIII", 1, 0, 0, 0, 1), "PROG_UNAVAIL"),
])
def test_bad_replies_are_protocol_errors(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        rpc.parse_reply(GETPORT_XID, data, "pmap").uint()


@pytest.mark.parametrize("body", [
    struct.pack(">II", 1, 0xFFFFFFF0),  # a path claiming 4 GiB
    struct.pack(">II", 1, 2000) + b"x" * 2000,  # over MNTPATHLEN
    struct.pack(">II", 1, 40) + b"/srv",  # runs past the end
    struct.pack(">I", 7),  # a bool that is not 0 or 1
])
def test_hostile_export_lists_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        rpc.decode_exports(rpc.XdrReader(body))


# ---------------------------------------------------------------- probe on loopback

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1, read=1, probe=8))


def _read_call(conn: socket.socket) -> bytes:
    (marker,) = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))
    return conn.recv(marker & 0x7FFFFFFF, socket.MSG_WAITALL)


def _answer(conn: socket.socket, recorded: bytes, fragments: int = 1) -> None:
    """Replay a recorded reply under the caller's xid, optionally split into fragments."""
    call = _read_call(conn)
    reply = call[:4] + recorded[4:]
    size = -(-len(reply) // fragments)
    pieces = [reply[i:i + size] for i in range(0, len(reply), size)]
    for i, piece in enumerate(pieces):
        last = 0x80000000 if i == len(pieces) - 1 else 0
        conn.sendall(struct.pack(">I", last | len(piece)) + piece)


def _portmapper(mount_port: int) -> Callable[[socket.socket], None]:
    return lambda conn: _answer(conn, GETPORT_REPLY[:-4] + struct.pack(">I", mount_port))


@pytest.mark.parametrize("recorded, groups", [(WEAK_EXPORT_REPLY, ("*",)),
                                              (GOOD_EXPORT_REPLY, ("198.18.0.40/32", "198.18.0.100/32"))])
def test_probe_lists_exports_through_portmapper_and_mount(recorded: bytes, groups: tuple[str, ...]) -> None:
    with tcp_server(lambda conn: _answer(conn, recorded, fragments=3)) as (_, mount_port, mounts), \
            tcp_server(_portmapper(mount_port)) as (host, pmap_port, _):
        facts = NfsExports().collect(Target(host=host, port=pmap_port, transport=Transport.TCP), CTX)
    assert facts.mount_port == mount_port and mounts[0] == 1
    assert facts.exports == (rpc.Export("/srv", groups),) and facts.auth_flavor == "AUTH_NONE"


def test_probe_when_mount_is_not_registered() -> None:
    with tcp_server(_portmapper(0)) as (host, port, _):
        facts = NfsExports().collect(Target(host=host, port=port), CTX)
    assert facts.mount_port is None and facts.exports == ()


def test_probe_retries_with_auth_sys_when_auth_none_is_too_weak() -> None:
    flavors: list[int] = []

    def mountd(conn: socket.socket) -> None:
        for _ in range(2):
            call = _read_call(conn)
            flavors.append(struct.unpack_from(">I", call, 24)[0])
            if flavors[-1] == rpc.AUTH_NONE:
                denied = call[:4] + struct.pack(">IIII", 1, 1, 1, 5)  # MSG_DENIED, AUTH_ERROR, AUTH_TOOWEAK
                conn.sendall(rpc.record(denied))
            else:
                conn.sendall(rpc.record(call[:4] + WEAK_EXPORT_REPLY[4:]))
                return

    with tcp_server(mountd) as (_, mount_port, _), tcp_server(_portmapper(mount_port)) as (host, port, _):
        facts = NfsExports().collect(Target(host=host, port=port), CTX)
    assert flavors == [rpc.AUTH_NONE, rpc.AUTH_SYS] and facts.auth_flavor == "AUTH_SYS"


def test_udp_rpcbind_target_does_not_apply() -> None:
    assert not NfsExports.applies(Target(host="198.18.0.10", port=111, transport=Transport.UDP))
    assert NfsExports.applies(Target(host="198.18.0.10", port=111, transport=Transport.TCP))


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _hostile(kind: str) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        if kind == "reset":
            _reset(conn)
        elif kind == "garbage":
            _read_call(conn)
            conn.sendall(b"\x80\x00\x00\x10" + b"\xab" * 16)
        elif kind == "huge":
            _read_call(conn)
            conn.sendall(b"\xff\xff\xff\xff")
        elif kind == "endless-fragments":
            _read_call(conn)
            for _ in range(200):
                conn.sendall(b"\x00\x00\x00\x04abcd")
        elif kind == "mid-reply-close":
            _read_call(conn)
            conn.sendall(b"\x80\x00\x00\x40" + b"\x00" * 10)
        elif kind == "silent":
            while conn.recv(4096):
                pass

    return handle


@pytest.mark.parametrize("kind, reason", [("reset", "protocol"), ("garbage", "protocol"), ("huge", "protocol"),
                                          ("endless-fragments", "protocol"), ("mid-reply-close", "protocol"),
                                          ("silent", "timeout")])
@pytest.mark.parametrize("where", ["portmapper", "mountd"])
def test_probe_hostile_servers_are_errors(kind: str, reason: str, where: str) -> None:
    started = time.monotonic()
    hostile = _hostile(kind)
    with tcp_server(hostile) as (_, bad_port, _):
        if where == "portmapper":
            with tcp_server(hostile) as (host, port, _), pytest.raises(ProbeError) as info:
                NfsExports().collect(Target(host=host, port=port), CTX)
        else:
            with tcp_server(_portmapper(bad_port)) as (host, port, _), pytest.raises(ProbeError) as info:
                NfsExports().collect(Target(host=host, port=port), CTX)
    assert info.value.reason.value == reason, info.value
    assert time.monotonic() - started < CTX.timeouts.probe


def test_closed_mount_port_is_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed = sock.getsockname()[1]
    sock.close()
    with tcp_server(_portmapper(closed)) as (host, port, _), pytest.raises(ProbeError) as info:
        NfsExports().collect(Target(host=host, port=port), CTX)
    assert info.value.reason.value == "refused"
