"""The fleet lab: an MSP centre and two practices, each behind its own one-way link.

Namespaces (``gs<id>-f*``; addresses only in 198.18.0.0/15):

- ``fc``, the centre: bridge ``br0`` with 198.19.0.1/24 (the MSP's broker address). It runs a real
  ``rabbitmq-server`` whose only AMQP listener is TLS on 198.19.0.1:5671 (a certificate from a
  lab CA; epmd and the Erlang distribution port on 127.0.0.1 only) and a real PostgreSQL on a
  Unix socket in the lab's directory (no TCP at all).
- ``fs1``/``fs2``, the sensors: ``wan`` (198.19.0.1N/24, a port of the centre's bridge) and
  ``lan`` (198.18.1N.1/24), a point-to-point link to the practice.
- ``fp1``/``fp2``, one practice host each (198.18.1N.10/24) running inetd + telnetd: a
  ``cleartext.telnet`` gap a sensor finds, and that a test can close to make drift.

nftables makes the links one-way: a sensor accepts nothing new on ``wan`` and may open only
198.19.0.1:5671 there; the centre accepts only 5671 from the bridge and opens nothing towards a
sensor. No namespace has a default route and the centre has no route to any practice subnet.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .certs import LabPki
from .netns import delete, namespace_pids, remove_etc, write_etc
from .proc import LabError, in_ns, run, stop, tail, terminate, wait_gone
from .topology import LAB_ID, NS_PREFIX

CENTRE_NS = f"{NS_PREFIX}fc"
BROKER_ADDRESS = "198.19.0.1"
BROKER_PORT = 5671
BROKER_NAME = "broker.msp.lab"
VHOST = "gapscan"


@dataclass(frozen=True)
class Site:
    """One practice: its sensor namespace, the sensor's two addresses, the practice host."""

    index: int

    @property
    def name(self) -> str:
        return f"site{self.index}"

    @property
    def sensor_ns(self) -> str:
        return f"{NS_PREFIX}fs{self.index}"

    @property
    def practice_ns(self) -> str:
        return f"{NS_PREFIX}fp{self.index}"

    @property
    def wan_address(self) -> str:
        return f"198.19.0.{10 + self.index}"

    @property
    def practice_net(self) -> str:
        return f"198.18.{10 + self.index}.0/24"

    @property
    def lan_address(self) -> str:
        return f"198.18.{10 + self.index}.1"

    @property
    def host_address(self) -> str:
        return f"198.18.{10 + self.index}.10"


SITES = (Site(1), Site(2))


def fleet_namespaces() -> list[str]:
    return [CENTRE_NS, *(s.sensor_ns for s in SITES), *(s.practice_ns for s in SITES)]


def _batch(namespace: str, commands: list[str]) -> None:
    run(["ip", "-n", namespace, "-batch", "-"], input_text="\n".join(commands) + "\n", timeout=30)


def _nft(namespace: str, rules: str) -> None:
    run(in_ns(namespace, ["nft", "-f", "-"]), input_text=rules, timeout=10)


def sensor_rules() -> str:
    """A sensor: nothing new comes in from the MSP side; out there only the broker's TLS port."""
    return (
        "table inet gsfleet {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        '    iifname "wan" ct state established,related accept\n'
        '    iifname "wan" counter drop\n'
        "  }\n"
        "  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        f'    oifname "wan" ip daddr {BROKER_ADDRESS} tcp dport {BROKER_PORT} accept\n'
        '    oifname "wan" ct state established,related accept\n'
        '    oifname "wan" counter drop\n'
        "  }\n"
        "}\n"
    )


def centre_rules() -> str:
    """The centre: the broker's TLS port is all a sensor can reach; no connection towards a sensor."""
    return (
        "table inet gsfleet {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        '    iifname "br0" ct state established,related accept\n'
        f'    iifname "br0" ip daddr {BROKER_ADDRESS} tcp dport {BROKER_PORT} accept\n'
        '    iifname "br0" counter drop\n'
        "  }\n"
        "  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        '    oifname "br0" ct state established,related accept\n'
        '    oifname "br0" counter drop\n'
        "  }\n"
        "}\n"
    )


def build_network() -> None:
    """Create the five namespaces, their links, addresses and nftables rules."""
    for ns in fleet_namespaces():
        run(["ip", "netns", "add", ns], timeout=10)
        write_etc(ns, BROKER_ADDRESS, [(BROKER_ADDRESS, BROKER_NAME)], "localhost")
    _batch(CENTRE_NS, ["link set lo up", "link add br0 type bridge", f"addr add {BROKER_ADDRESS}/24 dev br0",
                       "link set br0 up"])
    for s in SITES:
        port = f"w-fs{s.index}"
        _batch(CENTRE_NS, [f"link add {port} type veth peer name wan netns {s.sensor_ns}",
                           f"link set {port} master br0", f"link set {port} up"])
        _batch(s.sensor_ns, ["link set lo up", f"addr add {s.wan_address}/24 dev wan", "link set wan up",
                             f"link add lan type veth peer name eth0 netns {s.practice_ns}",
                             f"addr add {s.lan_address}/24 dev lan", "link set lan up"])
        _batch(s.practice_ns, ["link set lo up", f"addr add {s.host_address}/24 dev eth0", "link set eth0 up"])
        _nft(s.sensor_ns, sensor_rules())
    _nft(CENTRE_NS, centre_rules())


def teardown_network() -> list[str]:
    names = fleet_namespaces()
    for ns in names:
        if (Path("/run/netns") / ns).exists():
            pids = namespace_pids(ns)
            terminate(pids, grace=3.0)
            wait_gone(pids, timeout=5)
    failed = delete([ns for ns in names if (Path("/run/netns") / ns).exists()])
    remove_etc(names)
    return failed


def as_user(name: str) -> tuple[str, ...]:
    return ("setpriv", f"--reuid={name}", f"--regid={name}", "--init-groups")


@dataclass
class RabbitMQ:
    """A private RabbitMQ node in the centre namespace (rabbit@localhost, TLS only on the lab address)."""

    base: Path
    pki: LabPki
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.base / "log" / "startup.log"

    @property
    def env(self) -> dict[str, str]:
        # docs/lab-notes.md: every directory owned by the rabbitmq user, or startup fails after ~100 s.
        return {
            "HOME": str(self.base / "home"),
            # Erlang 25 looks for its cookie under $XDG_CONFIG_HOME/erlang first: keep it private too.
            "XDG_CONFIG_HOME": str(self.base / "home"),
            "ERL_CRASH_DUMP": str(self.base / "log" / "erl_crash.dump"),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),  # .conf is appended
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbit.pid"),
            "RABBITMQ_DIST_PORT": "25672",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        }

    def prepare(self) -> None:
        for sub in ("home", "mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        cert = self.pki.issue("broker", (BROKER_NAME,), (BROKER_ADDRESS,))
        tls = self.base / "tls"
        tls.mkdir(exist_ok=True)
        for src in (cert.cert, cert.key, self.pki.ca.cert):
            shutil.copy(src, tls / src.name)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            "listeners.tcp = none\n"
            f"listeners.ssl.1 = {BROKER_ADDRESS}:{BROKER_PORT}\n"
            f"ssl_options.cacertfile = {tls / 'ca.crt'}\n"
            f"ssl_options.certfile = {tls / 'broker.crt'}\n"
            f"ssl_options.keyfile = {tls / 'broker.key'}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
            "ssl_options.versions.1 = tlsv1.3\n"
            "ssl_options.versions.2 = tlsv1.2\n"
            # A sensor scans for a long time before it acknowledges (late ack): 2 h.
            "consumer_timeout = 7200000\n"
            "log.file.level = info\n"
            "log.console = false\n"
        )
        uid = pwd.getpwnam("rabbitmq")
        for path in [self.base, *self.base.rglob("*")]:
            os.chown(path, uid.pw_uid, uid.pw_gid)
        (tls / "broker.key").chmod(0o600)

    def start(self, timeout: float = 90.0) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                in_ns(CENTRE_NS, [*as_user("rabbitmq"), "env", *(f"{k}={v}" for k, v in self.env.items()),
                                  "/usr/lib/rabbitmq/bin/rabbitmq-server"]),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=self.base)
        # await_startup gives up at once while the node is not yet registered with epmd: poll it.
        deadline = time.monotonic() + timeout
        while True:
            done = self.ctl("await_startup", "--timeout", "20", timeout=40, check=False)
            if done.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(tail(p, 15) for p in sorted((self.base / "log").glob("*.log")))
                raise LabError(f"rabbitmq-server did not start: {done.stderr.strip()[-300:]}\n{logs}")
            time.sleep(1.0)

    def ctl_argv(self) -> list[str]:
        """The rabbitmqctl command line for this node (what ``gapscan fleet`` is configured with)."""
        return in_ns(CENTRE_NS, [*as_user("rabbitmq"), "env", *(f"{k}={v}" for k, v in self.env.items()),
                                 "/usr/lib/rabbitmq/bin/rabbitmqctl"])

    def ctl(self, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([*self.ctl_argv(), *args], timeout=timeout, check=check)

    def stop(self) -> None:
        """Stop the node (``rabbitmqctl stop``, then signals to the whole process group)."""
        if self.process is None:
            return
        self.ctl("stop", timeout=60, check=False)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)
        self.process = None  # epmd stays (a restarted node uses it); teardown ends the namespace's processes


@dataclass
class Postgres:
    """A private PostgreSQL for the centre's history store: a Unix socket in the lab directory only."""

    base: Path
    port: int = 54330  # names the socket file only
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_dir(self) -> Path:
        return self.base

    def url(self, database: str = "gapscan") -> str:
        return f"postgresql+psycopg://gapscan@/{database}?host={self.base}&port={self.port}"

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base, "postgres", "postgres")
        done = run([*as_user("postgres"), _pg_binary("initdb"), "-D", str(self.base / "data"), "-A", "trust", "-U",
                    "gapscan", "-E", "UTF8", "--no-sync", "--no-instructions"], timeout=120)
        del done
        self.start()
        run([*as_user("postgres"), _pg_binary("createdb"), "-h", str(self.base), "-p", str(self.port), "-U",
             "gapscan", "gapscan"], timeout=30)

    def start(self, timeout: float = 30.0) -> None:
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            in_ns(CENTRE_NS, [*as_user("postgres"), _pg_binary("postgres"), "-D", str(self.base / "data"), "-k",
                              str(self.base), "-p", str(self.port), "-c", "listen_addresses=", "-c", "fsync=off"]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            ready = run([_pg_binary("pg_isready"), "-h", str(self.base), "-p", str(self.port)], timeout=10,
                        check=False)
            if ready.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"postgres did not start: {tail(self.base / 'server.log')}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected, as when the database host goes away)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise LabError(f"{name} not found (apt-get install postgresql)")
    return str(candidates[-1])


@dataclass
class Telnet:
    """inetutils-inetd + telnetd on a practice host (the lab's cleartext.telnet daemon, by hand)."""

    site: Site
    base: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        d = self.base / f"telnet-{self.site.name}"
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "inetd.conf"
        line = f"{self.site.host_address}:23 stream tcp nowait root /usr/sbin/telnetd telnetd -h -E /bin/cat\n"
        conf.write_text(line)
        self.process = subprocess.Popen(
            in_ns(self.site.practice_ns, ["/usr/sbin/inetutils-inetd", "-d", "-R", "6000",
                                          f"--pidfile={d / 'inetd.pid'}", str(conf)]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ss = run(in_ns(self.site.practice_ns, ["ss", "-Hltn", "sport = :23"]), timeout=5).stdout
            if ss.strip():
                return
            time.sleep(0.1)
        raise LabError(f"inetd did not listen on {self.site.host_address}:23")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=5)  # type: ignore[arg-type]
            self.process = None


class FleetLab:
    """The whole fleet lab: ``up()`` once per test module, ``down()`` at its end."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=f"gslab{LAB_ID}-fleet-"))
        self.base.chmod(0o755)
        self.pki = LabPki(self.base / "pki")
        self.broker = RabbitMQ(self.base / "rabbitmq", self.pki)
        self.postgres = Postgres(self.base / "pg")
        self.telnet = {s.name: Telnet(s, self.base) for s in SITES}

    @property
    def ca_file(self) -> Path:
        return self.pki.ca.cert

    def up(self) -> None:
        teardown_network()  # a crashed run's namespaces
        build_network()
        self.broker.prepare()
        self.broker.start()
        self.broker.ctl("delete_user", "guest", check=False)  # docs/lab-notes.md: guest has .* .* .*
        self.broker.ctl("add_vhost", VHOST)
        self.postgres.init()
        for telnet in self.telnet.values():
            telnet.start()

    def down(self) -> list[str]:
        problems: list[str] = []
        for telnet in self.telnet.values():
            telnet.stop()
        with contextlib.suppress(LabError):
            self.broker.stop()
        self.postgres.stop()
        problems += teardown_network()
        shutil.rmtree(self.base, ignore_errors=True)
        return problems

    def env_for(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **(extra or {})}


@contextlib.contextmanager
def fleet_lab() -> Iterator[FleetLab]:
    lab = FleetLab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
