"""STARTTLS (RFC 3207) and the TLS version it negotiates, with this client's best offer.

The client offers every version its OpenSSL can (TLS 1.0 to 1.3 at security level 0, any
cipher suite, no certificate check): the server then picks its best, which is what a
well-configured sending MTA would get. SSL 3.0 cannot be offered by this OpenSSL; a server that
only speaks it fails the handshake, which is an error result (we could not test), not a PASS.
Whether the server *also* accepts older versions when asked is the TLS checks' question.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.lines import LineClient
from scanner.net.smtp import read_smtp_reply
from scanner.net.starttls import smtp_upgrade
from scanner.net.text import sanitize

LEGACY_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1")


def best_offer_context() -> ssl.SSLContext:
    """A client context offering everything this OpenSSL can; it verifies nothing (we only observe)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.0/1.1 above level 0
    return context


def offered_versions() -> tuple[str, ...]:
    names = (("TLSv1", "HAS_TLSv1"), ("TLSv1.1", "HAS_TLSv1_1"), ("TLSv1.2", "HAS_TLSv1_2"),
             ("TLSv1.3", "HAS_TLSv1_3"))
    return tuple(name for name, flag in names if getattr(ssl, flag, False))


@dataclass(frozen=True)
class SmtpTlsFacts:
    starttls_offered: bool
    starttls_reply: str  # "220 2.0.0 Ready to start TLS", or "" when not offered
    tls_version: str | None  # "TLSv1.3"; None when STARTTLS was not offered or refused
    cipher: str | None
    offered: tuple[str, ...]  # the versions this client offered
    library: str  # ssl.OPENSSL_VERSION

    @property
    def negotiated_legacy(self) -> bool:
        return self.tls_version in LEGACY_VERSIONS

    @property
    def offered_range(self) -> str:
        return f"{self.offered[0]} to {self.offered[-1]}" if self.offered else "nothing"

    def evidence(self) -> Evidence:
        return Evidence(
            kind="smtp-starttls",
            summary=f"STARTTLS {'offered' if self.starttls_offered else 'not offered'}; negotiated "
                    f"{self.tls_version or 'nothing'}" + (f" with {self.cipher}" if self.cipher else ""),
            data={"starttls_offered": self.starttls_offered, "starttls_reply": sanitize(self.starttls_reply, 200),
                  "tls_version": self.tls_version, "cipher": self.cipher, "client_offered": list(self.offered),
                  "client_library": self.library},
            collected_at=utcnow(),
            method=f"TCP connect, EHLO, STARTTLS, TLS handshake offering {self.offered_range} "
                   "(no certificate check), QUIT",
        )


def _handshake(client: LineClient) -> ssl.SSLSocket:
    # Bytes already buffered after the 220 would be plaintext injected before TLS (the
    # STARTTLS command-injection class, CVE-2011-0411): refuse rather than read them as TLS.
    if client.pending():
        raise ProtocolError("SMTP server sent data after its STARTTLS reply, before the TLS handshake")
    try:
        tls = best_offer_context().wrap_socket(client.sock, server_hostname=None, do_handshake_on_connect=False)
        tls.settimeout(client.remaining(client.read_timeout))  # the runner's reaper bounds the rest
        tls.do_handshake()
    except ssl.SSLError as exc:
        raise ProtocolError(
            f"TLS handshake after STARTTLS failed ({exc.reason or exc}); this client offered "
            f"{', '.join(offered_versions())}: the server may speak only SSL 3.0 or something else this "
            "client cannot offer, so its TLS version could not be tested") from exc
    except Exception as exc:
        raise translate_os_error(exc, "TLS handshake after STARTTLS") from exc
    client.sock = tls
    return tls


class SmtpStarttls(Probe[SmtpTlsFacts]):
    """EHLO, STARTTLS when offered, one TLS handshake with the client's best offer, QUIT."""

    name = "smtp-starttls"

    def collect(self, target: Target, ctx: ProbeContext) -> SmtpTlsFacts:
        assert target.host is not None and target.port is not None
        offered = offered_versions()
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="SMTP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            upgrade = smtp_upgrade(client)  # greeting, EHLO, STARTTLS (shared with the TLS checks)
            if not upgrade.offered:
                return SmtpTlsFacts(False, "", None, None, offered, ssl.OPENSSL_VERSION)
            reply = upgrade.reply
            if not upgrade.ready:
                return SmtpTlsFacts(True, reply, None, None, offered, ssl.OPENSSL_VERSION)
            tls = _handshake(client)
            version, cipher = tls.version(), (tls.cipher() or ("",))[0]
            with contextlib.suppress(ProbeError):
                client.send_line("QUIT")
                read_smtp_reply(client)
            return SmtpTlsFacts(True, reply, version, cipher, offered, ssl.OPENSSL_VERSION)
