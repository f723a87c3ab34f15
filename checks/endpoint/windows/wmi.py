"""WMI queries over DCOM (MS-WMI on MS-DCOM), through impacket's ``dcomrt``/``dcom.wmi``.

Flow (MS-WMI 3.2.4): activate ``WbemLevel1Login`` through the endpoint mapper on TCP 135,
``NTLMLogin`` to the namespace, ``ExecQuery`` (WQL), then ``IEnumWbemClassObject::Next`` until
WBEM_S_FALSE. https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wmi/

impacket's DCOM layer opens a second connection to the port the server hands out and gives it a
fixed 300 s socket timeout, which a caller cannot lower. So the session (a) tests TCP 135 itself
with the caller's timeout first, (b) passes the timeout to every ``Next`` call (server side), and
(c) runs the whole conversation in a worker thread bounded by an overall deadline: past it the
collector reports a timeout and moves on (the abandoned worker ends when impacket's socket does).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from impacket.dcerpc.v5.dcom import wmi
from impacket.dcerpc.v5.dcomrt import DCOMConnection
from impacket.dcerpc.v5.dtypes import NULL

from scanner.errors import ProbeError, ProbeTimeout, ProtocolError, translate_os_error

from .errors import error_code, map_error
from .logon import WindowsLogon
from .records import WmiResult

WBEM_S_FALSE = 0x1
WBEM_S_TIMEDOUT = 0x40004
WBEM_E_INVALID_NAMESPACE = 0x8004100E
WBEM_E_INVALID_CLASS = 0x80041010
MAX_ROWS = 256
T = TypeVar("T")


class NamespaceMissing(ProbeError):
    """The WMI namespace or class does not exist on this endpoint (e.g. SecurityCenter2 on a server)."""


def with_deadline(work: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``work`` in a daemon thread; ``ProbeTimeout`` if it has not finished after ``seconds``."""
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=runner, name=f"gapscan-wmi {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ProbeTimeout(f"{what}: no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


class WmiSession:
    """One DCOM connection, several WQL queries. Not thread-safe (impacket keeps per-target globals)."""

    def __init__(self, host: str, logon: WindowsLogon, timeout: float) -> None:
        self.host, self.logon, self.timeout = host, logon, timeout
        self._dcom: DCOMConnection | None = None
        self._login: Any = None

    def connect(self) -> None:
        try:  # the endpoint mapper with *our* timeout: refused/filtered is known in seconds
            with socket.create_connection((self.host, 135), timeout=self.timeout):
                pass
        except OSError as exc:
            raise translate_os_error(exc, f"WMI: connect to {self.host}:135") from exc
        lm, nt = self.logon.hashes()
        try:
            self._dcom = DCOMConnection(self.host, self.logon.username, self.logon.password or "",
                                        self.logon.domain, lm, nt, oxidResolver=False)
            interface = self._dcom.CoCreateInstanceEx(wmi.CLSID_WbemLevel1Login, wmi.IID_IWbemLevel1Login)
            self._login = wmi.IWbemLevel1Login(interface)
        except Exception as exc:
            raise map_error(exc, f"WMI (DCOM) on {self.host}", self.logon) from exc

    def query(self, namespace: str, wql: str) -> WmiResult:
        """Every row of one query as property -> value (at most MAX_ROWS rows)."""
        what = f"WMI {namespace}: {wql}"
        try:
            services = self._login.NTLMLogin("//./" + namespace.replace("\\", "/"), NULL, NULL)
        except Exception as exc:
            if error_code(exc) == WBEM_E_INVALID_NAMESPACE:
                raise NamespaceMissing(f"{what}: namespace does not exist") from exc
            raise map_error(exc, what, self.logon) from exc
        rows: list[dict[str, Any]] = []
        try:
            enum = services.ExecQuery(wql)
            while len(rows) < MAX_ROWS:
                try:
                    objects = enum.Next(int(self.timeout * 1000), 1)
                except Exception as exc:
                    if error_code(exc) == WBEM_S_FALSE:
                        break
                    if error_code(exc) == WBEM_S_TIMEDOUT:
                        raise ProbeTimeout(f"{what}: WMI did not answer within {self.timeout:.0f} s") from exc
                    raise
                for obj in objects:
                    rows.append(_row(obj.getProperties()))
            with contextlib.suppress(Exception):
                enum.RemRelease()
        except ProbeError:
            raise
        except Exception as exc:
            if error_code(exc) == WBEM_E_INVALID_CLASS:
                raise NamespaceMissing(f"{what}: class does not exist") from exc
            raise map_error(exc, what, self.logon) from exc
        finally:
            with contextlib.suppress(Exception):
                services.RemRelease()
        return WmiResult(namespace=namespace, query=wql, rows=rows)

    def close(self) -> None:
        if self._login is not None:
            with contextlib.suppress(Exception):
                self._login.RemRelease()
        if self._dcom is not None:
            with contextlib.suppress(Exception):
                self._dcom.disconnect()
        self._login = self._dcom = None


def _row(properties: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, prop in dict(properties).items():
        value = prop.get("value") if isinstance(prop, dict) else prop
        row[str(name)] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
    return row


def run_queries(host: str, logon: WindowsLogon, timeout: float,
                queries: Sequence[tuple[str, str]]) -> list[WmiResult | ProbeError]:
    """Run each (namespace, WQL) query; a failed query yields its ``ProbeError`` in its place.

    Connection-level failures (refused, logon refused, timeout) raise for the whole session.
    """
    session = WmiSession(host, logon, timeout)

    def work() -> list[WmiResult | ProbeError]:
        session.connect()
        out: list[WmiResult | ProbeError] = []
        for namespace, wql in queries:
            try:
                out.append(session.query(namespace, wql))
            except ProbeError as exc:
                out.append(exc)
        return out

    try:
        return with_deadline(work, timeout * (2 + len(queries)), f"WMI on {host}")
    except ProbeError:
        raise
    except Exception as exc:
        raise ProtocolError(f"WMI on {host}: {exc.__class__.__name__}") from exc
    finally:
        session.close()
