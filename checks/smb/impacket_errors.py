"""impacket's exceptions, translated into the scanner's ``ProbeError`` hierarchy.

impacket raises a zoo: ``SessionError`` (three flavours, carrying an NT status), ``NetBIOSError``
and ``NetBIOSTimeout`` from its transport, ``socket.error`` wrapping the real connect error,
``struct.error`` from its unpackers on a truncated reply (also how a server refusing SMB1 shows,
docs/lab-notes.md), ``DCERPCException`` from RPC, and bare ``Exception``. Callers decide which NT
statuses are a server's considered "no" (see ``DENIALS``); everything else lands here.
"""

from __future__ import annotations

import errno
import struct

from impacket import nmb, smb, smb3, smbconnection
from impacket.dcerpc.v5.rpcrt import DCERPCException

from checks.smb.wire import nt_status_name as status_name
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError, translate_os_error

SESSION_ERRORS = (smbconnection.SessionError, smb.SessionError, smb3.SessionError)

# NT statuses (MS-ERREF 2.3.1) that mean the logon itself was refused.
LOGON_REFUSALS = frozenset({
    0xC000006D,  # STATUS_LOGON_FAILURE
    0xC000006A,  # STATUS_WRONG_PASSWORD
    0xC0000064,  # STATUS_NO_SUCH_USER
    0xC000006E,  # STATUS_ACCOUNT_RESTRICTION
    0xC000006F,  # STATUS_INVALID_LOGON_HOURS
    0xC0000070,  # STATUS_INVALID_WORKSTATION
    0xC0000071,  # STATUS_PASSWORD_EXPIRED
    0xC0000072,  # STATUS_ACCOUNT_DISABLED
    0xC0000193,  # STATUS_ACCOUNT_EXPIRED
    0xC0000224,  # STATUS_PASSWORD_MUST_CHANGE
    0xC0000234,  # STATUS_ACCOUNT_LOCKED_OUT
    0xC000015B,  # STATUS_LOGON_TYPE_NOT_GRANTED
})
# NT statuses (MS-ERREF 2.3) that mean "this identity may not do that": a verdict, not a failure.
DENIALS = LOGON_REFUSALS | frozenset({
    0xC0000022,  # STATUS_ACCESS_DENIED
    0xC00000BB,  # STATUS_NOT_SUPPORTED (e.g. anonymous logon disabled)
    0xC00000CA,  # STATUS_NETWORK_ACCESS_DENIED
    0xC00000CC,  # STATUS_BAD_NETWORK_NAME (share hidden from this identity)
    0xC0000034,  # STATUS_OBJECT_NAME_NOT_FOUND (no srvsvc pipe for this identity)
    0xC00000AC,  # STATUS_PIPE_NOT_AVAILABLE
    0xC0000033,  # STATUS_OBJECT_NAME_INVALID
    0xC00000A2,  # STATUS_MEDIA_WRITE_PROTECTED (read-only share, write test)
})
RPC_ACCESS_DENIED = frozenset({0x5, 0xC0000022})  # ERROR_ACCESS_DENIED / rpc_s_access_denied


def denial_status(exc: BaseException) -> str | None:
    """The status name when ``exc`` is a server's considered refusal, else None."""
    if isinstance(exc, SESSION_ERRORS):
        code = exc.getErrorCode() if hasattr(exc, "getErrorCode") else exc.get_error_code()
        return status_name(code) if code in DENIALS else None
    if isinstance(exc, DCERPCException) and exc.get_error_code() in RPC_ACCESS_DENIED:
        return "rpc_s_access_denied"
    return None


def translate(exc: BaseException, what: str) -> ProbeError:
    """Map any exception from impacket to a ProbeError (use as ``raise translate(e, w) from e``)."""
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, nmb.NetBIOSTimeout):
        return ProbeTimeout(f"{what}: timed out")
    if isinstance(exc, SESSION_ERRORS):
        code = exc.getErrorCode() if hasattr(exc, "getErrorCode") else exc.get_error_code()
        return ProtocolError(f"{what}: unexpected {status_name(code)}")
    if isinstance(exc, nmb.NetBIOSError):
        if exc.error_code in (errno.ECONNRESET, None):
            return ProtocolError(f"{what}: connection closed by the server")
        return ProtocolError(f"{what}: transport error ({exc.error_msg})")
    if isinstance(exc, OSError):
        # impacket wraps connect errors as socket.error("Connection error (...)", original)
        inner = exc.args[1] if len(exc.args) == 2 and isinstance(exc.args[1], BaseException) else exc
        return translate_os_error(inner, what)
    if isinstance(exc, struct.error | IndexError | ValueError | KeyError | TypeError):
        return ProtocolError(f"{what}: malformed reply ({exc.__class__.__name__}: {exc})")
    if isinstance(exc, DCERPCException):
        return ProtocolError(f"{what}: RPC error {exc}")
    return ProtocolError(f"{what}: {exc.__class__.__name__}: {exc}")
