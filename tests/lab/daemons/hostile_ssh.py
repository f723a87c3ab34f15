"""The hostile host's SSH server that closes the channel (issue 15): it accepts any password
logon, then closes every session channel it opens and refuses every command, as a restricted
shell, a honeypot or a dying sshd does. Real SSH (paramiko's server side), a fresh ECDSA host
key each start.

Run with the venv's Python (paramiko) inside the hostile host's namespace:
``python -I hostile_ssh.py ADDRESS PORT``; it prints ``serving`` once it listens.
"""

from __future__ import annotations

import socket
import sys
import threading

import paramiko

PORT = 2222


class ClosesEveryChannel(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return False


def _serve(conn: socket.socket, host_key: paramiko.PKey) -> None:
    transport = paramiko.Transport(conn)
    transport.add_server_key(host_key)
    try:
        transport.start_server(server=ClosesEveryChannel())
        while transport.is_active():
            channel = transport.accept(30)
            if channel is None:
                break
            channel.close()
    except (paramiko.SSHException, EOFError, OSError):
        pass
    finally:
        transport.close()


def main() -> None:
    address, port = sys.argv[1], int(sys.argv[2])
    host_key = paramiko.ECDSAKey.generate()
    listener = socket.create_server((address, port), backlog=32)
    print("serving", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve, args=(conn, host_key), daemon=True).start()


if __name__ == "__main__":
    main()
