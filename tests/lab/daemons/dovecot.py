"""Dovecot 2.3: plaintext IMAP/POP3 logins on the weak host; on the hardened one `ssl =
required`, LOGINDISABLED before STARTTLS/STLS, and IMAPS/POP3S; on the mixed one `ssl = yes`
(STARTTLS/STLS offered) with plaintext login still allowed before it. It also serves Postfix SASL.

docs/lab-notes.md: own base_dir per instance; `inet_listener` blocks must be multi-line; Dovecot keeps
the caller's stderr open after daemonizing, so it runs in the foreground (-F) with its stdio
redirected to a file by lab.py.
"""

from __future__ import annotations

from pathlib import Path

from ..topology import LabHost
from . import Context, DaemonSpec, write

MAIL_USER = "frontdesk"
MAIL_PASSWORD = "Lab-Only-2026!"
STRONG_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
DH_PARAMS = Path("/usr/share/dovecot/dh.pem")


def sasl_socket(ctx: Context, host: LabHost) -> Path:
    """The auth socket Postfix's smtpd uses for SASL (absolute: smtpd is not chrooted)."""
    return ctx.root / host.name / "dovecot" / "auth-postfix"


def _listener(name: str, port: int, ssl: bool = False) -> str:
    body = f"    port = {port}\n" + ("    ssl = yes\n" if ssl else "")
    return f"  inet_listener {name} {{\n{body}  }}\n"


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "dovecot")
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir(exist_ok=True)
    (d / "mail").chmod(0o1777)  # mail is stored as 'nobody' (static userdb)
    plaintext = "imap.cleartext_login" in host.gaps or "pop3.cleartext_login" in host.gaps
    # The host's mail daemons offer TLS unless its SMTP has no STARTTLS (topology.MAIL_IDS).
    tls = "smtp.starttls_missing" not in host.gaps
    write(d / "users", f"{MAIL_USER}:{{PLAIN}}{MAIL_PASSWORD}\n", mode=0o644)
    ports = {s.port for s in host.services if s.daemon == "dovecot"}
    conf = f"""\
instance_name = dovecot-{host.name}
base_dir = {d}/run
state_dir = {d}/state
protocols = imap pop3
listen = {listen}
log_path = {d}/dovecot.log
login_greeting = {host.dns_name} ready
default_login_user = dovenull
default_internal_user = dovecot
auth_mechanisms = plain login
disable_plaintext_auth = {"no" if plaintext else "yes"}
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service auth {{
  unix_listener {sasl_socket(ctx, host)} {{
    mode = 0666
  }}
}}
"""
    if not tls:
        conf += "ssl = no\n"
    else:
        pair = ctx.pki.issue(f"{host.name}-mailbox", (host.dns_name,), (host.address,))
        conf += f"""\
ssl = {"yes" if plaintext else "required"}
ssl_cert = <{pair.cert}
ssl_key = <{pair.key}
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {STRONG_CIPHERS}
ssl_prefer_server_ciphers = yes
"""
        if DH_PARAMS.exists():
            conf += f"ssl_dh = <{DH_PARAMS}\n"
    # Port 0 disables a listener Dovecot would otherwise open by default (993/995 on the weak host).
    conf += "service imap-login {\n" + _listener("imap", 143 if 143 in ports else 0)
    conf += _listener("imaps", 993 if 993 in ports else 0, ssl=True) + "}\n"
    conf += "service pop3-login {\n" + _listener("pop3", 110 if 110 in ports else 0)
    conf += _listener("pop3s", 995 if 995 in ports else 0, ssl=True) + "}\n"
    cfg = write(d / "dovecot.conf", conf)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("dovecot",),
            namespace=host.namespace,
            argv=("dovecot", "-F", "-c", str(cfg)),
            console=d / "console.log",
            logs=(d / "dovecot.log",),
        )
    ]
