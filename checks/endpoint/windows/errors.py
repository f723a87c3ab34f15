"""impacket exceptions from a credentialed Windows collection, mapped to the scanner's ``ProbeError``s.

On top of ``checks.smb.impacket_errors.translate`` (transport, timeouts, malformed replies) this
adds what a *credentialed* session can hit: the logon refused (``AUTH_FAILED``), the account not
allowed (``PERMISSION``), and the remote-registry pipe missing because its service is stopped.
Messages are built from status names only and scrubbed of the secrets: impacket's own text is
never trusted not to echo what it was given.
"""

from __future__ import annotations

from impacket.dcerpc.v5.rpcrt import DCERPCException

from checks.smb.impacket_errors import LOGON_REFUSALS, SESSION_ERRORS, translate
from checks.smb.wire import nt_status_name
from scanner.errors import ProbeError, ProbePermissionError, ProbeRefused
from scanner.models import ErrorReason

from .logon import WindowsLogon

LOGON_REFUSED = LOGON_REFUSALS  # MS-ERREF 2.3.1; shared with the anonymous SMB checks
ACCESS_DENIED = frozenset({
    0xC0000022,  # STATUS_ACCESS_DENIED
    0x00000005,  # ERROR_ACCESS_DENIED (Win32, from winreg) / rpc_s_access_denied (DCE)
    0x80070005,  # E_ACCESSDENIED (HRESULT, from DCOM activation)
    0x80041003,  # WBEM_E_ACCESS_DENIED
})
# Opening \PIPE\winreg fails like this when the RemoteRegistry service is not running.
# STATUS_OBJECT_NAME_NOT_FOUND, STATUS_PIPE_NOT_AVAILABLE, STATUS_INVALID_PIPE_STATE
PIPE_MISSING = frozenset({0xC0000034, 0xC00000AC, 0xC00000AD})
REMOTE_REGISTRY_HINT = ("the RemoteRegistry service is not running on the endpoint (it is manual/trigger-start or "
                        "disabled on Windows clients); gapscan does not start services")


def error_code(exc: BaseException) -> int | None:
    if isinstance(exc, SESSION_ERRORS):
        return int(exc.getErrorCode() if hasattr(exc, "getErrorCode") else exc.get_error_code())
    if isinstance(exc, DCERPCException):
        code = exc.get_error_code()
        return int(code) if isinstance(code, int) else None
    return None


def scrub(message: str, logon: WindowsLogon) -> str:
    for secret in logon.secrets():
        message = message.replace(secret, "***")
    return message


def map_error(exc: BaseException, what: str, logon: WindowsLogon, *, opening_pipe: bool = False) -> ProbeError:
    """The ``ProbeError`` for one impacket failure (use as ``raise map_error(e, ...) from e``)."""
    code = error_code(exc)
    if code in LOGON_REFUSED:
        error = ProbeError(f"{what}: logon as {logon.account} refused ({nt_status_name(code)})",
                           ErrorReason.AUTH_FAILED)
    elif code in ACCESS_DENIED:
        error = ProbePermissionError(f"{what}: access denied for {logon.account} ({code:#x}); "
                                     "local administrator rights are needed")
    elif opening_pipe and code in PIPE_MISSING:
        error = ProbeRefused(f"{what}: {nt_status_name(code)}: {REMOTE_REGISTRY_HINT}")
    else:
        error = translate(exc, what)
    scrubbed = scrub(str(error), logon)
    if scrubbed != str(error):
        error = type(error)(scrubbed, error.reason)
    return error
