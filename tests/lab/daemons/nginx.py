"""nginx (nginx-light, OpenSSL 3.0): the weak portal serves TLS 1.0/1.1 only with every suite
OpenSSL still has (`@SECLEVEL=0`, docs/lab-notes.md) and a self-signed RSA-1024/SHA-1 certificate on
its first HTTPS port, and an expired lab-CA certificate on its second; the hardened portal serves
TLS 1.2/1.3 with ECDHE AEAD suites and a valid lab-CA certificate. Port 80 serves a login page
on the weak host (cleartext credentials) and a redirect to HTTPS on the hardened one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..certs import CertPair
from ..proc import run
from ..topology import LabHost
from . import Context, DaemonSpec, write

# This OpenSSL 3.0 build has no 3DES or RC4 left; what it still has that no one should serve:
# NULL encryption, anonymous (EC)DH, static-RSA key exchange, CBC with SHA-1.
WEAK_CIPHERS = "ALL:eNULL:@SECLEVEL=0"
STRONG_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
LOGIN_PAGE = (
    "<!doctype html><title>Patient portal</title><h1>Patient portal</h1>"
    '<form method="post" action="/login"><input name="user">'
    '<input type="password" name="password"><button>Sign in</button></form>\n'
)


def _server(listen: str, port: int, body: str, tls: str = "") -> str:
    ssl = " ssl" if tls else ""
    return f"  server {{\n    listen {listen}:{port}{ssl} backlog=4096;\n{tls}    location / {{\n{body}    }}\n  }}\n"


def _tls(pair: CertPair, protocols: str, ciphers: str, dhparam: Path | None = None) -> str:
    return (
        f"    ssl_certificate {pair.cert};\n    ssl_certificate_key {pair.key};\n"
        f'    ssl_protocols {protocols};\n    ssl_ciphers "{ciphers}";\n'
        "    ssl_prefer_server_ciphers on;\n" + (f"    ssl_dhparam {dhparam};\n" if dhparam else "")
    )


def _dhparam(path: Path) -> Path:
    """DH parameters (the RFC 7919 ffdhe2048 group: instant, unlike `openssl dhparam`); nginx
    offers DHE and anonymous-DH suites only when it has some."""
    run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", str(path)],
        timeout=20,
    )
    return path


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "nginx")
    (d / "tmp").mkdir(exist_ok=True)
    name = host.dns_name or f"{host.name}.lab.test"
    legacy = "tls.legacy_protocol" in host.gaps
    bad_cert = "tls.certificate_problem" in host.gaps
    servers = ""
    https_index = 0
    for svc in (s for s in host.services if s.daemon == "nginx"):
        if not svc.service.startswith("https"):
            body = (
                f"      default_type text/html;\n      return 200 '{LOGIN_PAGE}';\n"
                if legacy
                else "      return 301 https://$host$request_uri;\n"
            )
            servers += _server(listen, svc.port, body)
            continue
        body = "      default_type text/plain;\n      return 200 'portal\\n';\n"
        if legacy and https_index == 0:
            pair = ctx.pki.self_signed_weak(f"{host.name}-{svc.port}", name, host.address)
            tls = _tls(pair, "TLSv1 TLSv1.1", WEAK_CIPHERS, _dhparam(d / "dhparam.pem"))
        elif bad_cert:
            expired = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
            pair = ctx.pki.issue(
                f"{host.name}-{svc.port}",
                (name,),
                (host.address,),
                not_before=expired - dt.timedelta(days=365),
                not_after=expired,
            )
            tls = _tls(pair, "TLSv1.2 TLSv1.3", STRONG_CIPHERS)
        else:
            pair = ctx.pki.issue(f"{host.name}-{svc.port}", (name,), (host.address,))
            tls = _tls(pair, "TLSv1.2 TLSv1.3", STRONG_CIPHERS)
        servers += _server(listen, svc.port, body, tls)
        https_index += 1
    conf = f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  server_tokens on;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
{servers}}}
"""
    cfg = write(d / "nginx.conf", conf)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("nginx",),
            namespace=host.namespace,
            # -e: the error log before the config is read (else /var/log/nginx is opened).
            argv=("nginx", "-c", str(cfg), "-p", str(d), "-e", str(d / "error.log")),
            console=d / "console.log",
            logs=(d / "error.log",),
        )
    ]
