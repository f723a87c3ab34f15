"""Postfix 3.7 with a private config directory: the weak host is an open relay without STARTTLS
that offers AUTH in the clear; the hardened one offers STARTTLS (TLS 1.2+), relays for itself
only and offers AUTH only after STARTTLS; the mixed one offers STARTTLS with TLS 1.0/1.1 only
(smtp.tls_weak) and AUTH before it. All deliver nothing: every transport is discard:.

Traps avoided here (docs/lab-notes.md, "Daemons"):
- `maillog_file` without `maillog_file_prefixes` makes start exit 1 silently: both are set.
- A restriction list without `reject_unauth_destination` is refused at connect time and master
  then throttles smtpd for 60 s (no banner): the open relay is `mynetworks = 0.0.0.0/0` with
  `permit_mynetworks, ..., reject_unauth_destination`, which is a valid configuration. The
  lab's readiness check waits for the 220 banner, so a throttled smtpd fails `up` loudly.
- No DNS: `smtp_dns_support_level = disabled` and every transport discard:, so nothing is ever
  looked up or delivered, whatever a test sends.
"""

from __future__ import annotations

import shutil

from ..topology import LabHost
from . import Context, DaemonSpec, write
from .dovecot import sasl_socket

STRONG_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# TLS 1.0/1.1 need security level 0 in OpenSSL 3 (docs/lab-notes.md). Static-RSA suites need no SHA-1
# handshake signature, so even a default OpenSSL client (level 1) completes the handshake and
# sees TLS 1.1: tools that cannot test legacy TLS still agree that STARTTLS works here.
LEGACY_CIPHERS = "AES256-SHA:AES128-SHA:@SECLEVEL=0"

# chroot column "n" everywhere: the queue directory is under a temp dir, not a prepared jail.
MASTER_CF = """\
smtp       inet  n  -  n  -  -  smtpd
submission inet  n  -  n  -  -  smtpd
  -o syslog_name=postfix/submission
pickup     unix  n  -  n  60  1  pickup
cleanup    unix  n  -  n  -  0  cleanup
qmgr       unix  n  -  n  300  1  qmgr
tlsmgr     unix  -  -  n  1000?  1  tlsmgr
rewrite    unix  -  -  n  -  -  trivial-rewrite
bounce     unix  -  -  n  -  0  bounce
defer      unix  -  -  n  -  0  bounce
trace      unix  -  -  n  -  0  bounce
verify     unix  -  -  n  -  1  verify
flush      unix  n  -  n  1000?  0  flush
proxymap   unix  -  -  n  -  -  proxymap
smtp       unix  -  -  n  -  -  smtp
relay      unix  -  -  n  -  -  smtp
showq      unix  n  -  n  -  -  showq
error      unix  -  -  n  -  -  error
retry      unix  -  -  n  -  -  error
discard    unix  -  -  n  -  -  discard
local      unix  -  n  n  -  -  local
virtual    unix  -  n  n  -  -  virtual
lmtp       unix  -  -  n  -  -  lmtp
anvil      unix  -  -  n  -  1  anvil
scache     unix  -  -  n  -  1  scache
postlog    unix-dgram n  -  n  -  1  postlogd
"""


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "postfix")
    # postfix-script creates the queue's subdirectories (as the postfix user), not the root.
    (d / "queue").mkdir(mode=0o755, exist_ok=True)
    data = d / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(data, "postfix", "postfix")
    domain = host.dns_name.split(".", 1)[1]
    open_relay = "smtp.open_relay" in host.gaps
    starttls = "smtp.starttls_missing" not in host.gaps
    auth_in_clear = "smtp.cleartext_auth" in host.gaps
    legacy_tls = "smtp.tls_weak" in host.gaps
    main = f"""\
compatibility_level = 3.6
config_directory = {d}
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {host.dns_name}
mydomain = {domain}
myorigin = $mydomain
mydestination = $myhostname, $mydomain
inet_interfaces = {listen}
inet_protocols = ipv4
mynetworks = {"0.0.0.0/0" if open_relay else f"127.0.0.0/8 {host.address}/32"}
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
biff = no
alias_maps =
alias_database =
local_recipient_maps =
# Nothing leaves: every transport discards (the relay test must prove nothing is delivered).
default_transport = discard:lab
relay_transport = discard:lab
local_transport = discard:lab
virtual_transport = discard:lab
smtp_dns_support_level = disabled
notify_classes =
maillog_file = {d}/maillog
maillog_file_prefixes = {ctx.root}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl_socket(ctx, host)}
broken_sasl_auth_clients = yes
smtpd_tls_auth_only = {"no" if auth_in_clear else "yes"}
"""
    if starttls:
        pair = ctx.pki.issue(f"{host.name}-smtp", (host.dns_name,), (host.address,))
        main += f"""\
smtpd_tls_security_level = may
smtpd_tls_cert_file = {pair.cert}
smtpd_tls_key_file = {pair.key}
"""
        if legacy_tls:
            main += f"""\
smtpd_tls_protocols = >=TLSv1, <=TLSv1.1
smtpd_tls_mandatory_protocols = >=TLSv1, <=TLSv1.1
smtpd_tls_ciphers = medium
smtpd_tls_mandatory_ciphers = medium
tls_medium_cipherlist = {LEGACY_CIPHERS}
"""
        else:
            main += f"""\
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_ciphers = high
smtpd_tls_mandatory_ciphers = high
tls_high_cipherlist = {STRONG_CIPHERS}
"""
    else:
        main += "smtpd_tls_security_level = none\n"
    write(d / "main.cf", main)
    write(d / "master.cf", MASTER_CF)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("postfix",),
            namespace=host.namespace,
            # start-fg: master stays in the foreground (postfix-script execs it), so the PID is
            # ours; `postfix -c DIR` works as root without alternate_config_directories here.
            argv=("postfix", "-c", str(d), "start-fg"),
            console=d / "console.log",
            logs=(d / "maillog",),
        )
    ]
