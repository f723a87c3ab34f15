"""Read-only remote registry over SMB: MS-RRP (winreg) on the named pipe ``\\PIPE\\winreg``.

Calls used (MS-RRP 3.1.5): OpenLocalMachine / OpenUsers (root handles), BaseRegOpenKey,
BaseRegEnumKey, BaseRegEnumValue, BaseRegQueryValue, BaseRegCloseKey — every handle is opened
with KEY_READ and closed again. https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rrp/
The SMB connection carries the timeout for every socket operation (impacket applies it to the
session's socket), so each RPC call honours it.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import Iterator
from typing import Any

from impacket.dcerpc.v5 import rrp, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SMBConnection

from scanner.errors import ProbeError
from scanner.models import ErrorReason

from .errors import PIPE_MISSING, error_code, map_error
from .logon import WindowsLogon
from .records import RegValue

ERROR_FILE_NOT_FOUND = 0x2
ERROR_NO_MORE_ITEMS = 0x103
ERROR_ACCESS_DENIED = 0x5
MAX_SUBKEYS = 2000  # an Uninstall key rarely holds more than a few hundred programs
MAX_VALUES = 200
ROOTS = {"HKLM": rrp.hOpenLocalMachine, "HKU": rrp.hOpenUsers}


class KeyUnreadable(Exception):
    """The server answered, but would not let us read this key (recorded, not fatal)."""


def decode(value_type: int, data: Any) -> RegValue:
    """A registry value as JSON-able data (REG_* types from MS-RRP 2.2.7 / winnt.h)."""
    raw = b"".join(data) if isinstance(data, list) else data
    if isinstance(raw, str):
        raw = raw.encode("utf-16le")
    if value_type in (rrp.REG_SZ, rrp.REG_EXPAND_SZ):
        return raw.decode("utf-16le", errors="replace").split("\x00", 1)[0]
    if value_type == rrp.REG_MULTI_SZ:
        return [s for s in raw.decode("utf-16le", errors="replace").split("\x00") if s]
    if value_type == rrp.REG_DWORD and len(raw) >= 4:
        return int(struct.unpack("<L", raw[:4])[0])
    if value_type == rrp.REG_QWORD and len(raw) >= 8:
        return int(struct.unpack("<Q", raw[:8])[0])
    return "hex:" + raw.hex()


class RemoteRegistry:
    """One authenticated winreg session; use as a context manager."""

    def __init__(self, host: str, logon: WindowsLogon, timeout: float, port: int = 445) -> None:
        self.host, self.logon, self.timeout, self.port = host, logon, timeout, port
        self._smb: SMBConnection | None = None
        self._dce: Any = None
        self._roots: dict[str, Any] = {}

    def __enter__(self) -> RemoteRegistry:
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        what = f"SMB logon to {self.host}:{self.port}"
        lm, nt = self.logon.hashes()
        try:
            self._smb = SMBConnection(self.host, self.host, sess_port=self.port, timeout=self.timeout)
            self._smb.login(self.logon.username, self.logon.password or "", self.logon.domain, lm, nt)
            guest = bool(self._smb.isGuestSession())
        except Exception as exc:
            raise map_error(exc, what, self.logon) from exc
        if guest:
            # "map to guest = Bad User" (Samba) or an enabled Guest account (Windows) turns an
            # unknown account into a guest session: the credentials were not accepted.
            raise ProbeError(f"{what}: the server mapped {self.logon.account} to guest (credentials not accepted)",
                             ErrorReason.AUTH_FAILED)
        for attempt in (1, 2):
            try:
                pipe = transport.SMBTransport(self.host, self.port, r"\winreg", smb_connection=self._smb)
                pipe.set_connect_timeout(self.timeout)
                self._dce = pipe.get_dce_rpc()
                self._dce.connect()
                self._dce.bind(rrp.MSRPC_UUID_RRP)
                return
            except Exception as exc:
                if attempt == 1 and error_code(exc) in PIPE_MISSING:
                    # A trigger-start RemoteRegistry may come up after the first open: one retry.
                    time.sleep(min(1.0, self.timeout))
                    continue
                raise map_error(exc, f"remote registry (\\PIPE\\winreg) on {self.host}", self.logon,
                                opening_pipe=True) from exc

    def close(self) -> None:
        for handle in self._roots.values():
            with contextlib.suppress(Exception):
                rrp.hBaseRegCloseKey(self._dce, handle)
        self._roots.clear()
        if self._dce is not None:
            with contextlib.suppress(Exception):
                self._dce.disconnect()
            self._dce = None
        if self._smb is not None:
            with contextlib.suppress(Exception):
                self._smb.logoff()
            with contextlib.suppress(Exception):
                self._smb.close()
            self._smb = None

    # ------------------------------------------------------------ reads
    def _root(self, name: str) -> Any:
        if name not in self._roots:
            self._roots[name] = ROOTS[name](self._dce, rrp.KEY_READ)["phKey"]
        return self._roots[name]

    @contextlib.contextmanager
    def _open(self, path: str) -> Iterator[Any | None]:
        """A KEY_READ handle on ``path`` ("HKLM\\..." or "HKU\\..."), None when the key does not exist."""
        root, _, sub = path.partition("\\")
        if root.upper() not in ROOTS:
            raise ValueError(f"unsupported registry root in {path!r}")
        try:
            base = self._root(root.upper())
            handle = rrp.hBaseRegOpenKey(self._dce, base, sub, samDesired=rrp.KEY_READ)["phkResult"] if sub \
                else base
        except DCERPCException as exc:
            code = error_code(exc)
            if code == ERROR_FILE_NOT_FOUND:
                yield None
                return
            raise KeyUnreadable(_why(code, exc)) from exc
        except Exception as exc:
            raise map_error(exc, f"registry {path}", self.logon) from exc
        try:
            yield handle
        finally:
            if sub:
                with contextlib.suppress(Exception):
                    rrp.hBaseRegCloseKey(self._dce, handle)

    def read(self, path: str, names: tuple[str, ...] | None) -> dict[str, RegValue] | None:
        """The named values of a key (all values when ``names`` is None); None when the key is absent."""
        with self._open(path) as handle:
            if handle is None:
                return None
            return self._all_values(path, handle) if names is None else self._named(path, handle, names)

    def subkeys(self, path: str) -> list[str] | None:
        """Names of the subkeys of ``path`` (at most MAX_SUBKEYS); None when the key is absent."""
        with self._open(path) as handle:
            if handle is None:
                return None
            names: list[str] = []
            for index in range(MAX_SUBKEYS):
                reply = self._call(f"registry {path}", ERROR_NO_MORE_ITEMS, rrp.hBaseRegEnumKey, handle, index)
                if reply is None:
                    break
                names.append(str(reply["lpNameOut"]).rstrip("\x00"))
            return names

    def _call(self, what: str, absent: int, call: Any, *args: Any) -> Any:
        """One RRP call: None when it answers ``absent`` (no more items, no such value), an
        unreadable key for any other Win32 error, the scanner's errors for everything else."""
        try:
            return call(self._dce, *args)
        except DCERPCException as exc:
            if error_code(exc) == absent:
                return None
            raise KeyUnreadable(_why(error_code(exc), exc)) from exc
        except Exception as exc:
            raise map_error(exc, what, self.logon) from exc

    def _named(self, path: str, handle: Any, names: tuple[str, ...]) -> dict[str, RegValue]:
        values: dict[str, RegValue] = {}
        for name in names:
            found = self._call(f"registry {path}\\{name}", ERROR_FILE_NOT_FOUND, rrp.hBaseRegQueryValue, handle, name)
            if found is not None:
                value_type, data = found
                values[name] = decode(value_type, data)
        return values

    def _all_values(self, path: str, handle: Any) -> dict[str, RegValue]:
        values: dict[str, RegValue] = {}
        for index in range(MAX_VALUES):
            reply = self._call(f"registry {path}", ERROR_NO_MORE_ITEMS, rrp.hBaseRegEnumValue, handle, index)
            if reply is None:
                break
            name = str(reply["lpValueNameOut"]).rstrip("\x00")
            values[name] = decode(int(reply["lpType"]), reply["lpData"])
        return values


def _why(code: int | None, exc: BaseException) -> str:
    if code == ERROR_ACCESS_DENIED:
        return "access denied"
    return f"RPC error {code:#x}" if code is not None else f"RPC error ({exc.__class__.__name__})"


__all__ = ["KeyUnreadable", "RemoteRegistry", "decode"]
