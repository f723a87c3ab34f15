"""What answers on a sync client's TCP port (issue 7: "and/or its sync port 22000", "and/or its TCP
17500 listener"), verified rather than trusted from the port number where the protocol allows.

- Syncthing (service ``syncthing``, TCP 22000): the Block Exchange Protocol runs over TLS; the
  server offers ALPN ``bep/1.0`` and presents a self-signed certificate whose common name is
  ``syncthing`` by default, and the device id is the SHA-256 of that certificate (Syncthing's
  BEP v1 specification, "Device IDs" and "Connection Establishment"). One handshake without a
  client certificate (Syncthing only *requests* one) establishes all three; the connection is
  closed right after, nothing of BEP is sent.
- Dropbox (service ``dropbox``, TCP 17500, IANA ``db-lsp``): the client's LAN sync server cannot
  run here, so nothing beyond "the port accepts a TCP connection" is claimed; the check says so.

On the network-level target there is no port to verify: the facts are ``None``.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.text import sanitize

from .listen import SYNC_PORT_SERVICES, short_device_id

BEP_ALPN = "bep/1.0"
SYNCTHING_CN = "syncthing"


@dataclass(frozen=True)
class ListenerFacts:
    """One TCP sync port: ``verified`` says the protocol was recognised, not just the port."""

    host: str
    port: int
    service: str
    verified: bool
    tls: bool = False
    alpn: str | None = None
    common_name: str | None = None
    device_id_short: str | None = None
    note: str = ""

    def evidence(self) -> Evidence:
        data = {"host": self.host, "port": self.port, "verified": self.verified, "tls": self.tls,
                "alpn": self.alpn, "certificate_cn": self.common_name, "device_id_short": self.device_id_short}
        how = ("TLS handshake with ALPN bep/1.0, no client certificate; closed at once" if self.service == "syncthing"
               else "TCP connect, closed at once")
        return Evidence(kind="tcp-listener", summary=f"TCP {self.port} on {self.host}: {self.note}",
                        data=data, collected_at=utcnow(), method=how)


def _common_name(der: bytes) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return sanitize(str(names[0].value), 64) if names else None


def syncthing_facts(host: str, port: int, der: bytes | None, alpn: str | None) -> ListenerFacts:
    """Judge one finished handshake: Syncthing when it agreed on BEP's ALPN or its certificate is
    Syncthing's default one (either alone is enough: the ALPN came with v0.14.x, the CN is a default)."""
    cn = _common_name(der) if der else None
    device = short_device_id(hashlib.sha256(der).digest()) if der else None
    verified = alpn == BEP_ALPN or cn == SYNCTHING_CN
    note = (f"Syncthing (BEP over TLS: ALPN {alpn or 'none'}, certificate CN {cn!r}, device {device}…)" if verified
            else f"TLS, but not Syncthing (ALPN {alpn or 'none'}, certificate CN {cn!r})")
    return ListenerFacts(host, port, "syncthing", verified, tls=True, alpn=alpn, common_name=cn,
                         device_id_short=device if verified else None, note=note)


def _handshake(host: str, port: int, ctx: ProbeContext) -> tuple[bytes | None, str | None] | str:
    """(certificate DER, ALPN) of a TLS handshake, or why the port is not Syncthing's TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # Syncthing certificates are self-signed by design
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols([BEP_ALPN])
    what = f"Syncthing TLS to {host}:{port}"
    try:
        raw = socket.create_connection((host, port), timeout=ctx.remaining(ctx.timeouts.connect))
    except Exception as exc:
        raise translate_os_error(exc, what) from exc
    with raw:
        raw.settimeout(ctx.remaining(ctx.timeouts.read))  # the runner's reaper bounds the handshake
        try:
            tls = context.wrap_socket(raw)
        except ssl.SSLError as exc:
            # An ALPN refusal (RFC 7301 §3.2 no_application_protocol) is a TLS server that does
            # not speak BEP; anything else at this stage is a port that does not speak TLS 1.2+.
            if "no application protocol" in str(exc).lower().replace("_", " "):
                return "speaks TLS but refuses BEP's ALPN bep/1.0: not Syncthing"
            return f"accepts TCP but does not complete a TLS 1.2+ handshake ({exc.reason or exc}): not Syncthing"
        except (ConnectionResetError, EOFError, BrokenPipeError) as exc:
            # A reset or a close says nothing about what listens (a busy Syncthing, a firewall,
            # anything): no proof that it is not Syncthing, so an error, never "not Syncthing".
            raise ProtocolError(f"{what}: the connection was closed or reset during the TLS handshake "
                                f"({exc.__class__.__name__}): not identified either way") from exc
        except Exception as exc:
            raise translate_os_error(exc, what) from exc
        der, alpn = tls.getpeercert(binary_form=True), tls.selected_alpn_protocol()
        with contextlib.suppress(OSError):
            tls.close()
        return der, alpn


class SyncListener(Probe["ListenerFacts | None"]):
    """Verifies a discovered Syncthing or Dropbox TCP port; ``None`` on the network-level target."""

    name = "sync-listener"

    @classmethod
    def applies(cls, target: Target) -> bool:
        # The network-level target too (facts None): both cloud-sync checks plan both kinds.
        return target.host is None or (target.service in SYNC_PORT_SERVICES and target.transport == "tcp")

    def collect(self, target: Target, ctx: ProbeContext) -> ListenerFacts | None:
        if target.host is None or target.port is None or target.transport != "tcp":
            return None
        host, port = target.host, target.port
        if target.service == "syncthing":
            answer = _handshake(host, port, ctx)
            if isinstance(answer, str):
                return ListenerFacts(host, port, "syncthing", False, tls="TLS but" in answer, note=answer)
            return syncthing_facts(host, port, *answer)
        try:
            socket.create_connection((host, port), timeout=ctx.remaining(ctx.timeouts.connect)).close()
        except Exception as exc:
            raise translate_os_error(exc, f"TCP connect to {host}:{port}") from exc
        return ListenerFacts(host, port, target.service or "", False,
                             note="accepts TCP connections (IANA db-lsp, Dropbox LAN sync); protocol not identified")
