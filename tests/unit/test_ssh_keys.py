"""Key files with a passphrase (issue 15: passphrase_env crashed every endpoint check of the host
with "TypeError: password must be bytes"). Real keys made by ssh-keygen."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checks.endpoint.ssh import _load_key
from scanner.credentials import Credential, Secret
from scanner.errors import ProbeError
from scanner.models import ErrorReason

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) missing")


def _key(tmp_path: Path, kind: str, passphrase: str) -> Path:
    path = tmp_path / f"id_{kind}"
    extra = ["-b", "2048", "-m", "PEM"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", passphrase, "-f", str(path)], check=True,
                   capture_output=True, timeout=60)
    return path


def _cred(key: Path, passphrase: str | None) -> Credential:
    return Credential(name="t", kind="ssh", username="tech", domain=None, port=None, password=None, nt_hash=None,
                      key_file=key, passphrase=Secret(passphrase) if passphrase is not None else None, sudo=False,
                      host_key="tofu", networks=())


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_a_key_with_its_passphrase_loads(tmp_path: Path, kind: str) -> None:
    key = _key(tmp_path, kind, "correct horse")
    assert _load_key(_cred(key, "correct horse")).get_name()


def test_a_wrong_or_missing_passphrase_is_auth_failed_without_the_value(tmp_path: Path) -> None:
    key = _key(tmp_path, "rsa", "correct horse")
    for given in ("wrong-pass-Canary", None):
        with pytest.raises(ProbeError) as exc:
            _load_key(_cred(key, given))
        assert exc.value.reason is ErrorReason.AUTH_FAILED
        assert "Canary" not in str(exc.value)


def test_a_server_that_closes_every_channel_after_logon_leaves_sections_unread(tmp_path: Path) -> None:
    """A real SSH server (paramiko's server side, on loopback) that accepts the logon, then refuses
    to run anything: each command is 'not run' with the reason, the session is not a crash."""
    import socket
    import threading

    import paramiko

    from checks.endpoint.commands import Command
    from checks.endpoint.ssh import SessionLimits, SshSession

    host_key = paramiko.Ed25519Key.from_private_key_file(str(_key(tmp_path, "ed25519", "")))

    class Refusing(paramiko.ServerInterface):
        def get_allowed_auths(self, username: str) -> str:
            return "password"

        def check_auth_password(self, username: str, password: str) -> int:
            return paramiko.AUTH_SUCCESSFUL

        def check_channel_request(self, kind: str, chanid: int) -> int:
            return paramiko.OPEN_SUCCEEDED

        def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
            return False  # refuse, and the client sees the channel closed

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        conn, _ = listener.accept()
        transport = paramiko.Transport(conn)
        transport.add_server_key(host_key)
        transport.start_server(server=Refusing())
        channel = transport.accept(10)
        if channel is not None:
            channel.close()
        threading.Event().wait(3)
        transport.close()

    threading.Thread(target=serve, daemon=True).start()
    cred = Credential(name="t", kind="ssh", username="tech", domain=None, port=listener.getsockname()[1],
                      password=Secret("x"), nt_hash=None, key_file=None, passphrase=None, sudo=False,
                      host_key="tofu", networks=())
    with SshSession("127.0.0.1", cred, SessionLimits(connect=5, command=5), store=tmp_path / "kh") as session:
        result = session.run(Command(key="os", argv=("cat", "/etc/os-release")))
    listener.close()
    assert result.not_run and "closed the channel" in result.not_run
