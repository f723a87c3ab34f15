import socket
import time
from pathlib import Path

import pytest

from scanner.config.scope_file import load_scope_file
from scanner.errors import InputError, OutOfScopeError
from scanner.scope.guard import enforce, require_in_scope
from scanner.scope.targets import build_scope, parse_entry
from tests.unit.helpers import tcp_server


def test_parse_forms() -> None:
    assert [str(n) for n in parse_entry("198.18.0.0/30").networks] == ["198.18.0.0/30"]
    assert [str(n) for n in parse_entry("198.18.0.7").networks] == ["198.18.0.7/32"]
    short = parse_entry("198.18.0.1-6").networks
    long = parse_entry("198.18.0.1-198.18.0.6").networks
    assert short == long
    assert sum(n.num_addresses for n in short) == 6
    assert parse_entry("Frontdesk.Clinic.Test.").hostname == "frontdesk.clinic.test"
    assert parse_entry("frontdesk.clinic.test").networks == ()  # resolved by build_scope, not here


@pytest.mark.parametrize("bad", ["198.18.0.9-3", "198.18.0.1-300", "not a host!", "198.18.0.1-x.y", ""])
def test_parse_refuses_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(bad)


def test_a_range_keeps_every_address_a_cidr_drops_network_and_broadcast() -> None:
    # 198.18.0.10-40 is summarised into blocks such as .28/30 and .32/29: none of their edges
    # may be lost (a range is a list of hosts, not of networks).
    assert list(build_scope(["198.18.0.10-40"]).addresses()) == [f"198.18.0.{i}" for i in range(10, 41)]
    assert list(build_scope(["198.18.0.28-33"]).addresses()) == [f"198.18.0.{i}" for i in range(28, 34)]
    cidr = list(build_scope(["198.18.0.0/29"]).addresses())
    assert cidr == [f"198.18.0.{i}" for i in range(1, 7)]
    assert list(build_scope(["198.18.0.5"]).addresses()) == ["198.18.0.5"]


def test_addresses_respect_exclusions() -> None:
    scope = build_scope(["198.18.0.0/29"], ["198.18.0.2", "198.18.0.4-5"])
    assert list(scope.addresses()) == ["198.18.0.1", "198.18.0.3", "198.18.0.6"]
    assert not scope.contains("198.18.0.2") and scope.contains("198.18.0.3")
    assert not scope.contains("198.18.1.1")


@pytest.mark.parametrize("target", ["8.8.8.8", "203.0.113.0/23", "1.1.1.0-255", "0.0.0.0/0"])
def test_public_targets_refused_without_allow_public(target: str) -> None:
    with pytest.raises(InputError, match=r"allow-public|globally routable|limit"):
        build_scope([target])


def test_allow_public_admits_a_public_address_into_scope() -> None:
    # Only the scope arithmetic is tested: nothing is ever sent to this address.
    scope = build_scope(["9.9.9.9"], allow_public=True)
    assert scope.contains("9.9.9.9")


def test_oversized_scope_refused() -> None:
    with pytest.raises(InputError, match="more than the limit"):
        build_scope(["198.18.0.0/15"], max_addresses=1024)


def test_public_nameserver_refused() -> None:
    with pytest.raises(InputError, match="nameserver"):
        build_scope(["198.18.0.1"], nameservers=["8.8.4.4"])


def test_guard_refuses_out_of_scope_connect_before_any_packet() -> None:
    def handler(conn: socket.socket) -> None:
        conn.sendall(b"hello\r\n")

    with tcp_server(handler, host="127.0.0.9") as (host, port, accepted):
        scope = build_scope(["127.0.0.10"])
        with enforce(scope), pytest.raises(OutOfScopeError):
            socket.create_connection((host, port), timeout=2)
        with enforce(scope):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with pytest.raises(OutOfScopeError):
                udp.sendto(b"x", (host, port))
            udp.close()
            with pytest.raises(OutOfScopeError):
                require_in_scope(host)
        time.sleep(0.3)
        assert accepted[0] == 0, "the listener saw a connection the guard should have stopped"
        # Outside a scan the guard is inactive, and in scope a connect goes through.
        with enforce(build_scope([host])):
            socket.create_connection((host, port), timeout=2).close()
        deadline = time.monotonic() + 2
        while accepted[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accepted[0] == 1


def test_guard_refuses_names_during_a_scan() -> None:
    with enforce(build_scope(["127.0.0.10"])):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with pytest.raises(OutOfScopeError, match="unresolved name"):
            sock.connect(("localhost", 9))
        sock.close()


def test_nameserver_is_contactable_but_not_in_scope() -> None:
    scope = build_scope(["198.18.0.0/24"], nameservers=["127.0.0.53"])
    assert not scope.contains("127.0.0.53")
    assert scope.may_contact("127.0.0.53")


def test_scope_file(tmp_path: Path) -> None:
    f = tmp_path / "scope.txt"
    f.write_text("# practice LAN\nauthorized-by: Dr. Lee, owner\n198.18.0.0/28\n!198.18.0.5\nexclude 198.18.0.6\n")
    targets, excl, who = load_scope_file(f)
    assert targets == ["198.18.0.0/28"] and excl == ["198.18.0.5", "198.18.0.6"] and who == "Dr. Lee, owner"


def test_scope_file_error_names_line(tmp_path: Path) -> None:
    f = tmp_path / "scope.txt"
    f.write_text("198.18.0.0/28\n198.18.0.300\n")
    with pytest.raises(InputError, match=r"scope.txt, line 2"):
        load_scope_file(f)


def test_a_host_name_without_a_declared_nameserver_is_refused_before_any_query(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_system_resolver(*args: object, **kwargs: object) -> None:
        raise AssertionError("the system resolver must never be asked")

    monkeypatch.setattr(socket, "getaddrinfo", no_system_resolver)
    with pytest.raises(InputError, match="needs a nameserver"):
        build_scope(["frontdesk.clinic.test"])
    with pytest.raises(InputError, match=r"exclusion 'printer\.clinic\.test'.*needs a nameserver"):
        build_scope(["198.18.0.0/24"], ["printer.clinic.test"])


def test_the_cli_refuses_a_host_name_target_without_nameserver(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app

    result = CliRunner().invoke(app, ["scan", "frontdesk.clinic.test", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs a nameserver" in result.output and "--nameserver" in result.output
