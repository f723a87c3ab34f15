"""The Windows collector's error mapping (impacket exceptions -> ProbeError) and its deadline helper.

The live paths (logon refused, closed port, denied key) run against Samba in
tests/test_endpoint_windows_lab.py; these cover the statuses the lab cannot produce.
"""

from __future__ import annotations

import threading

import pytest
from impacket import nmb, smb3
from impacket.dcerpc.v5 import rrp
from impacket.dcerpc.v5.rpcrt import DCERPCException

from checks.endpoint.windows.errors import REMOTE_REGISTRY_HINT, map_error
from checks.endpoint.windows.logon import WindowsLogon
from checks.endpoint.windows.wmi import with_deadline
from scanner.errors import ProbePermissionError, ProbeRefused, ProbeTimeout
from scanner.models import ErrorReason

LOGON = WindowsLogon("admin", "CLINIC", password="Canary-Pass-99")
HASHED = WindowsLogon("admin", "CLINIC", nt_hash="31d6cfe0d16ae931b73c59d7e0c089c0")


def _session_error(status: int) -> smb3.SessionError:
    return smb3.SessionError(status)


@pytest.mark.parametrize("status, name", [
    (0xC000006D, "STATUS_LOGON_FAILURE"), (0xC0000234, "STATUS_ACCOUNT_LOCKED_OUT"),
    (0xC0000072, "STATUS_ACCOUNT_DISABLED"), (0xC0000071, "STATUS_PASSWORD_EXPIRED"),
])
def test_logon_refused_is_auth_failed(status: int, name: str) -> None:
    error = map_error(_session_error(status), "SMB logon to 198.18.0.10:445", LOGON)
    assert error.reason is ErrorReason.AUTH_FAILED and name in str(error) and "CLINIC\\admin" in str(error)
    assert "Canary" not in str(error)


def test_access_denied_is_permission() -> None:
    assert isinstance(map_error(_session_error(0xC0000022), "x", LOGON), ProbePermissionError)
    rpc = rrp.DCERPCSessionError(error_code=5)
    assert isinstance(map_error(rpc, "x", LOGON), ProbePermissionError)
    assert isinstance(map_error(DCERPCException("rpc_s_access_denied", 5), "x", LOGON), ProbePermissionError)


@pytest.mark.parametrize("status", [0xC0000034, 0xC00000AC])
def test_missing_winreg_pipe_names_the_service(status: int) -> None:
    error = map_error(_session_error(status), "remote registry", LOGON, opening_pipe=True)
    assert isinstance(error, ProbeRefused) and REMOTE_REGISTRY_HINT in str(error)
    assert "RemoteRegistry" in str(error)


def test_transport_errors() -> None:
    refused = OSError("Connection error (198.18.0.10:445)", ConnectionRefusedError(111, "Connection refused"))
    assert map_error(refused, "x", LOGON).reason is ErrorReason.REFUSED
    assert map_error(nmb.NetBIOSTimeout(), "x", LOGON).reason is ErrorReason.TIMEOUT
    assert map_error(TimeoutError(), "x", LOGON).reason is ErrorReason.TIMEOUT


def test_secrets_are_scrubbed_from_any_message() -> None:
    leaky = RuntimeError("bad things with Canary-Pass-99 inside")
    assert "Canary" not in str(map_error(leaky, "x", LOGON))
    hash_leak = ValueError("31d6cfe0d16ae931b73c59d7e0c089c0 is odd")
    assert "31d6cfe0" not in str(map_error(hash_leak, "x", HASHED))


def test_with_deadline() -> None:
    assert with_deadline(lambda: 42, 1.0, "quick") == 42
    release = threading.Event()
    with pytest.raises(ProbeTimeout, match="no answer within"):
        with_deadline(lambda: release.wait(5), 0.1, "slow")
    release.set()
    with pytest.raises(ZeroDivisionError):
        with_deadline(lambda: 1 // 0, 1.0, "broken")
