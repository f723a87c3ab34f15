"""vsftpd: anonymous read-only FTP without TLS on the weak host; on the others, local users only
with AUTH TLS required (lab-CA certificate, TLS 1.2+ and AEAD suites only)."""

from __future__ import annotations

from ..topology import LabHost
from . import Context, DaemonSpec, write

# vsftpd's own default cipher list is DES-CBC3-SHA (3DES): a hardened host must override it.
STRONG_CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "vsftpd")
    anon_root = d / "anon"
    (anon_root / "pub").mkdir(parents=True, exist_ok=True)
    # docs/lab-notes.md: the anonymous root must not be writable, and secure_chroot_dir must exist.
    anon_root.chmod(0o555)
    (d / "empty").mkdir(exist_ok=True)
    write(anon_root / "pub" / "forms-index.txt", "intake forms (lab dummy file)\n")
    anonymous = "ftp.anonymous_login" in host.gaps
    if anonymous:  # a system image folder where anyone can list it (issue 20: critical)
        (anon_root / "WindowsImageBackup").mkdir(exist_ok=True)
    tls = "cleartext.ftp" not in host.gaps
    lines = [
        "listen=YES",
        "listen_ipv6=NO",
        *([] if listen == "0.0.0.0" else [f"listen_address={listen}"]),
        "background=NO",  # stay in the foreground: vsftpd has no pid file option (docs/lab-notes.md)
        f"anonymous_enable={'YES' if anonymous else 'NO'}",
        f"anon_root={anon_root}",
        "no_anon_password=YES",
        "anon_upload_enable=NO",
        "anon_mkdir_write_enable=NO",
        "write_enable=NO",
        # Local logins exist so that a server with anonymous off still has something to log in
        # to (vsftpd refuses to run with both off); through PAM, as Debian ships it.
        f"local_enable={'NO' if anonymous else 'YES'}",
        "pam_service_name=vsftpd",
        f"secure_chroot_dir={d / 'empty'}",
        "ftpd_banner=Clinic file transfer",
        "pasv_enable=YES",
        "pasv_min_port=30000",
        "pasv_max_port=30099",
        "xferlog_enable=YES",
        f"vsftpd_log_file={d / 'vsftpd.log'}",
        "max_clients=0",
        "max_per_ip=0",
    ]
    if tls:
        pair = ctx.pki.issue(f"{host.name}-ftp", (host.dns_name or f"{host.name}.lab.test",), (host.address,))
        lines += [
            "ssl_enable=YES",
            f"rsa_cert_file={pair.cert}",
            f"rsa_private_key_file={pair.key}",
            "ssl_sslv2=NO",
            "ssl_sslv3=NO",
            "ssl_tlsv1=YES",  # vsftpd's switch for "TLS": OpenSSL's defaults refuse TLS 1.0/1.1
            f"ssl_ciphers={STRONG_CIPHERS}",
            "force_local_logins_ssl=YES",
            "force_local_data_ssl=YES",
            "require_ssl_reuse=NO",
        ]
    cfg = write(d / "vsftpd.conf", "\n".join(lines) + "\n", mode=0o600)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("vsftpd",),
            namespace=host.namespace,
            argv=("vsftpd", str(cfg)),
            console=d / "console.log",
            logs=(d / "vsftpd.log",),
        )
    ]
