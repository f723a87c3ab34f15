"""The credentials file (scanner/credentials.py): secrets only from env, a 0600 file or a prompt;
errors that point at the credential without echoing values; Secret never shows itself."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from scanner.config.credentials_file import load_credentials
from scanner.credentials import Secret
from scanner.errors import InputError

CANARY = "Canary-unit-3c1d-NeverInOutput"
HEAD = "credentials:\n  - name: x\n    kind: ssh\n    targets: [192.0.2.1]\n    username: u\n"


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "creds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


SSH_ENV = """credentials:
  - name: linux
    kind: ssh
    targets: [192.0.2.10, 192.0.2.20-29]
    username: tech
    password_env: GS_UNIT_PW
    sudo: true
  - name: windows
    kind: windows
    targets: [192.0.2.0/24]
    domain: CLINIC
    username: audit
    password_file: {pwfile}
"""


def test_resolves_env_and_file_secrets_and_matches_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_UNIT_PW", CANARY)
    pwfile = write(tmp_path, "file-secret\n", name="pw")
    store = load_credentials(write(tmp_path, SSH_ENV.format(pwfile=pwfile)), interactive=False)
    linux = store.for_host("192.0.2.25")
    assert linux is not None and linux.name == "linux" and linux.sudo
    assert linux.password is not None and linux.password.reveal() == CANARY
    win = store.for_host("192.0.2.200")
    assert win is not None and win.kind == "windows" and win.password is not None
    assert win.password.reveal() == "file-secret"
    assert store.for_host("198.51.100.1") is None
    assert CANARY not in repr(store) and "file-secret" not in repr(store)
    assert set(store.secrets()) == {CANARY, "file-secret"}
    assert win.describe() == "credential 'windows' (windows, CLINIC\\audit)"


def test_secret_never_shows_and_cannot_be_pickled() -> None:
    secret = Secret(CANARY)
    assert CANARY not in repr(secret) and CANARY not in str(secret) and CANARY not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="chmod 600"):
        load_credentials(write(tmp_path, SSH_ENV, mode=0o644))


def test_password_written_in_the_file_is_refused_without_echo(tmp_path: Path) -> None:
    text = HEAD + f"    password: {CANARY}\n"
    with pytest.raises(InputError) as info:
        load_credentials(write(tmp_path, text))
    assert "never written in the credentials file" in str(info.value) and CANARY not in str(info.value)


def test_bad_values_are_not_echoed(tmp_path: Path) -> None:
    text = HEAD + f"    password_env: GS\n    port: {CANARY}\n"
    with pytest.raises(InputError) as info:
        load_credentials(write(tmp_path, text))
    assert "port" in str(info.value) and "line 7" in str(info.value) and CANARY not in str(info.value)


def test_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GS_UNIT_PW", raising=False)
    with pytest.raises(InputError, match="GS_UNIT_PW is not set"):
        load_credentials(write(tmp_path, SSH_ENV.format(pwfile="/nonexistent")))


@pytest.mark.parametrize("body, message", [
    ("    password_env: A\n    password_prompt: true\n", "one secret source"),
    ("    sudo: true\n", "no secret source"),
    ("    password_env: lower-case!\n", "NAME of an environment variable"),
])
def test_secret_source_rules(tmp_path: Path, body: str, message: str) -> None:
    text = "credentials:\n  - name: x\n    kind: ssh\n    targets: [192.0.2.1]\n    username: u\n" + body
    with pytest.raises(InputError, match=message):
        load_credentials(write(tmp_path, text))


def test_prompt_needs_a_terminal_or_asks(tmp_path: Path) -> None:
    text = HEAD + "    password_prompt: true\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="interactive terminal"):
        load_credentials(path, interactive=False)
    asked: list[str] = []
    store = load_credentials(path, prompt=lambda msg: asked.append(msg) or CANARY)
    cred = store.for_host("192.0.2.1")
    assert cred is not None and cred.password is not None and cred.password.reveal() == CANARY
    assert asked and CANARY not in asked[0]


def test_windows_only_and_ssh_only_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H", "0" * 31 + "1")
    bad = "credentials:\n  - name: w\n    kind: windows\n    targets: [192.0.2.1]\n    username: u\n" \
          "    password_env: H\n    sudo: true\n"
    with pytest.raises(InputError, match="for kind: ssh"):
        load_credentials(write(tmp_path, bad))
    nthash = "credentials:\n  - name: w\n    kind: windows\n    targets: [192.0.2.1]\n    username: u\n" \
             "    nt_hash_env: H\n"
    cred = load_credentials(write(tmp_path, nthash, name="h.yaml")).for_host("192.0.2.1")
    assert cred is not None and cred.nt_hash is not None
    monkeypatch.setenv("H", "not-a-hash")
    with pytest.raises(InputError, match="NT hash"):
        load_credentials(write(tmp_path, nthash, name="h2.yaml"))


def test_host_names_are_refused_as_targets(tmp_path: Path) -> None:
    text = "credentials:\n  - name: x\n    kind: ssh\n    targets: [laptop.example]\n    username: u\n" \
           "    password_env: A\n"
    with pytest.raises(InputError, match="host names are not matched"):
        load_credentials(write(tmp_path, text))


def test_demo_credentials_require_the_labs_own_host_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make demo` twice must not meet its own earlier lab keys as "changed": the demo gives the
    lab's keys as known_hosts and requires them (host_key: known_hosts)."""
    import paramiko

    from checks.endpoint import hostkeys
    from tests.lab import demo

    work = tmp_path / "lab"
    keys = {}
    for name in ("laptop-weak", "laptop-good"):
        folder = work / name / "endpoint"
        folder.mkdir(parents=True)
        key = paramiko.ECDSAKey.generate(bits=256)
        keys[name] = key
        (folder / "ssh_host_ecdsa_key.pub").write_text(f"{key.get_name()} {key.get_base64()} lab\n")
        (folder / "client_ed25519").write_text("not a real key\n")
    monkeypatch.delenv("GS_DEMO_LAPTOP_PASSWORD", raising=False)
    creds = demo.write_credentials(type("FakeLab", (), {"workdir": work})(), tmp_path)  # type: ignore[arg-type]
    store = load_credentials(creds, interactive=False)
    assert all(c.host_key == "known_hosts" for c in store.credentials) and store.known_hosts is not None
    stale = tmp_path / "gapscan_known_hosts"
    stale.write_text(f"198.18.0.41 {keys['laptop-good'].get_name()} {keys['laptop-good'].get_base64()}\n")
    check = hostkeys.verify("198.18.0.41", 22, keys["laptop-weak"], store=stale, extra=store.known_hosts, tofu=False)
    assert check.status is hostkeys.KeyStatus.KNOWN
