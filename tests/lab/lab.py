"""The lab's life cycle: up, wait_ready, status, down; and running commands in the scanner namespace.

State (work dir, namespaces, every PID with its start time) is written to
/run/gapscan-lab/state.json as soon as there is something to clean up, so `up` after a crash and
`down` from another process both know exactly what to remove. Teardown ends processes by their
own PIDs: the ones recorded, plus every process still inside a lab namespace (`ip netns pids`:
the daemons' forked children).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from . import netns, proc
from .certs import LabPki
from .daemons import Context, DaemonSpec, builders
from .proc import LabError, ProcRecord
from .topology import (
    DENSE_GATEWAY,
    DENSE_HOST,
    DENSE_NET,
    DENSE_NS,
    HOSTS,
    LAB_ID,
    LAB_ZONE,
    NAMESERVER,
    NS_PREFIX,
    PRACTICE_PREFIX,
    SCANNER_ADDRESS,
    SCANNER_NS,
    SWITCH_NS,
    LabHost,
)

STATE_DIR = Path(f"/run/gapscan-lab{LAB_ID}")
STATE_FILE = STATE_DIR / "state.json"
WORK_PREFIX = f"gslab{LAB_ID}-"
PARTS = ("practice", "dense")
PROBE_SCRIPT = Path(__file__).with_name("probe.py")
# A greeting to wait for, by service: a TCP accept alone would miss Postfix's throttled smtpd
# (docs/lab-notes.md: it accepts but never says 220) and a vsftpd that accepts then dies with 500 OOPS.
BANNERS = {"smtp": "220", "submission": "220", "ftp": "220", "imap": "* OK", "pop3": "+OK", "ssh": "SSH-"}
# The dense /24 is probed at a few addresses per port (all 254 x 7 would only slow `up`).
DENSE_SAMPLE = (1, 127, 254)
ZOMBIE_WAIT = 10.0
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "bounce", "defer")
# Postfix delivery agents that would mean a message left (or was stored): only discard may run.
DELIVERY_AGENTS = re.compile(r"postfix/(smtp|lmtp|local|virtual|pipe)\[")


@dataclass(frozen=True)
class EndpointStatus:
    host: str
    address: str
    port: int
    service: str
    daemon: str
    accepting: bool
    reason: str = ""


def _dense_addresses() -> list[str]:
    base = DENSE_NET.split("/")[0].rsplit(".", 1)[0]
    return [f"{base}.{i}" for i in DENSE_SAMPLE]


def hosts_for(parts: Iterable[str]) -> tuple[LabHost, ...]:
    parts = tuple(parts)
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise LabError(f"unknown lab part(s) {sorted(unknown)}; known: {', '.join(PARTS)}")
    return (HOSTS if "practice" in parts else ()) + ((DENSE_HOST,) if "dense" in parts else ())


def required_binaries(parts: Iterable[str]) -> set[str]:
    """Programs the lab runs for these parts (for the preflight check)."""
    kinds = {s.daemon for h in hosts_for(parts) for s in h.services}
    names = {"ganesha": "ganesha.nfsd", "sshd": "sshd", "postfix": "postfix", "inetd": "inetutils-inetd",
             "xvnc": "Xvnc", "dropbox-emitter": "python3", "resilio-emitter": "python3",
             "endpoint-sshd": "sudo", "mariadb": "mariadbd"}  # + dconf, clamd, mkfs.ext4 below
    extra = {"ip", "nft", "smbpasswd", "ssh-keygen", "nsd-checkconf", "openssl", "sysctl", "unshare"}
    if "mariadb" in kinds:
        extra.add("mariadb-install-db")
    if "endpoint-sshd" in kinds:
        extra |= {"dconf", "clamd", "mkfs.ext4", "gsettings"}
    return {names.get(k, k) for k in kinds} | extra


def preflight(parts: Iterable[str] = PARTS) -> list[str]:
    """Why the lab cannot run here (empty when it can): root, CAP_NET_ADMIN, the daemons."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network namespaces, daemons on privileged ports)")
        return problems
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = sorted(b for b in required_binaries(parts) if shutil.which(b, path=path) is None)
    if missing:
        problems.append(f"missing programs: {', '.join(missing)} (install tests/lab/apt-packages.txt with apt-get)")
    if shutil.which("ip", path=path):
        probe = f"{NS_PREFIX}preflight-{os.getpid()}"
        done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            problems.append(f"cannot create a network namespace (CAP_NET_ADMIN?): {done.stderr.strip()}")
        else:
            netns.delete([probe])
    return problems


class Lab:
    """Network-namespace lab of real daemons, described by tests.lab.topology."""

    def __init__(self, state_file: Path = STATE_FILE) -> None:
        self.state_file = state_file
        self.workdir: Path | None = None
        self.parts: tuple[str, ...] = ()
        self.processes: list[ProcRecord] = []
        self.namespaces: list[str] = []
        self.up_seconds: float | None = None
        self._popens: dict[int, subprocess.Popen[bytes]] = {}
        self._specs: list[DaemonSpec] = []
        self._load()

    # ---------------------------------------------------------------- state

    def _load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return
        self.workdir = Path(data["workdir"]) if data.get("workdir") else None
        self.parts = tuple(data.get("parts", ()))
        self.namespaces = list(data.get("namespaces", ()))
        self.processes = [ProcRecord(**p) for p in data.get("processes", ())]
        self.up_seconds = data.get("up_seconds")

    def _save(self, phase: str) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "phase": phase,
            "workdir": str(self.workdir) if self.workdir else None,
            "parts": list(self.parts),
            "namespaces": self.namespaces,
            "processes": [asdict(p) for p in self.processes],
            "up_seconds": self.up_seconds,
            "saved_at": time.time(),
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_file)

    @property
    def ca_file(self) -> Path:
        """The lab CA certificate (what a scanner must trust to see hardened hosts as valid)."""
        return self._work() / "pki" / "ca.crt"

    @property
    def trust_bundle(self) -> Path:
        """System CAs + the lab CA; the scanner runs with SSL_CERT_FILE pointing here."""
        return self._work() / "pki" / "trust-bundle.pem"

    def _work(self) -> Path:
        if self.workdir is None:
            raise LabError("the lab is not up (no work directory recorded)")
        return self.workdir

    def postfix_queue_dir(self, host_name: str) -> Path:
        return self._work() / host_name / "postfix" / "queue"

    def postfix_config_dir(self, host_name: str) -> Path:
        return self._work() / host_name / "postfix"

    def mail_leaks(self) -> list[str]:
        """Evidence that a lab Postfix kept or delivered mail (empty when nothing did): files in
        a queue, or a log line from a delivery agent other than discard."""
        leaks = []
        for h in self.hosts():
            if not any(s.daemon == "postfix" for s in h.services):
                continue
            queue = self.postfix_queue_dir(h.name)
            for sub in QUEUE_SUBDIRS:
                leaks += [f"{h.name}: queued {p}" for p in (queue / sub).rglob("*") if p.is_file()]
            log = self.postfix_config_dir(h.name) / "maillog"
            text = log.read_text(errors="replace") if log.exists() else ""
            leaks += [f"{h.name}: {line}" for line in text.splitlines() if DELIVERY_AGENTS.search(line)]
        return leaks

    def hosts(self) -> tuple[LabHost, ...]:
        return hosts_for(self.parts)

    # ---------------------------------------------------------------- up

    def up(self, parts: Sequence[str] = PARTS, *, ready_timeout: float = 45.0) -> float:
        """Build the namespaces, start every daemon of ``parts`` and wait until all accept.

        Cleans the leftovers of an earlier run first. On any failure everything started is torn
        down again and LabError names the daemon with the tail of its logs. Returns the seconds
        it took.
        """
        started = time.monotonic()
        hosts = hosts_for(parts)
        problems = preflight(parts)
        if problems:
            raise LabError("; ".join(problems))
        proc.become_subreaper()
        self.cleanup_leftovers()
        self.parts = tuple(p for p in PARTS if p in parts)
        self.workdir = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir="/tmp"))
        self.workdir.chmod(0o755)
        attachments = self._attachments(hosts)
        self.namespaces = [SWITCH_NS, *(a.namespace for a in attachments)]
        self._save("building")
        try:
            netns.build(attachments)
            self._write_etc(attachments)
            if DENSE_HOST in hosts:
                netns.add_local_addresses(DENSE_NS, DENSE_NET)
                netns.reject_tcp_to(DENSE_NS, DENSE_GATEWAY)
            ctx = Context(root=self.workdir, pki=LabPki(self.workdir / "pki"))
            self._specs = self._build_specs(hosts, ctx)
            self._start_all(self._specs)
            self._save("starting")
            self.wait_ready(timeout=ready_timeout)
            self._record_extra_pids()
        except BaseException:
            self.down()
            raise
        self.up_seconds = round(time.monotonic() - started, 2)
        self._save("up")
        return self.up_seconds

    def _attachments(self, hosts: Sequence[LabHost]) -> list[netns.Attachment]:
        routes = (f"{DENSE_NET} via {DENSE_GATEWAY}",) if DENSE_HOST in hosts else ()
        result = [netns.Attachment(SCANNER_NS, f"{SCANNER_ADDRESS}/{PRACTICE_PREFIX}", routes)]
        for h in hosts:
            address = DENSE_GATEWAY if h is DENSE_HOST else h.address
            result.append(netns.Attachment(h.namespace, f"{address}/{PRACTICE_PREFIX}"))
        return result

    def _write_etc(self, attachments: Sequence[netns.Attachment]) -> None:
        from .daemons.nsd import lab_names

        names = [*lab_names(), (SCANNER_ADDRESS, f"scanner.{LAB_ZONE}")]
        for a in attachments:
            netns.write_etc(a.namespace, NAMESERVER, names, socket.gethostname())

    def _build_specs(self, hosts: Sequence[LabHost], ctx: Context) -> list[DaemonSpec]:
        table = builders()
        specs: list[DaemonSpec] = []
        for h in hosts:
            listen = "0.0.0.0" if h is DENSE_HOST else h.address
            for kind in h.daemons():
                specs += table[kind](h, ctx, listen)
        return specs

    def _start_all(self, specs: Sequence[DaemonSpec]) -> None:
        # Setup commands (key generation, passdb) and starts run in parallel: `up` is dominated
        # by them otherwise. Each spec's own setup still runs before its start.
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(self._start_one, specs))
        for rec in results:
            self.processes.append(rec)

    def _start_one(self, spec: DaemonSpec) -> ProcRecord:
        for argv, stdin_text in spec.setup:
            try:
                proc.run(proc.in_ns(spec.namespace, argv), input_text=stdin_text or None, timeout=30)
            except LabError as exc:
                raise LabError(f"{spec.name}: setup failed: {exc}") from exc
        console = spec.console.open("ab")
        try:
            # Own session: a Ctrl-C in the terminal that ran `up` must not reach the daemons.
            popen = subprocess.Popen(
                proc.in_ns(spec.namespace, spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=spec.console.parent,
            )
        except OSError as exc:
            raise LabError(f"{spec.name}: cannot start {spec.argv[0]}: {exc}") from exc
        finally:
            console.close()
        self._popens[popen.pid] = popen
        pid = proc.read_pidfile(spec.pidfile, 10) if spec.pidfile else popen.pid
        return proc.record(spec.name, pid, spec.namespace)

    def _record_extra_pids(self) -> None:
        for spec in self._specs:
            for pidfile in spec.extra_pidfiles:
                pid = proc.read_pidfile(pidfile, 5)
                self.processes.append(proc.record(f"{spec.host}/{pidfile.stem}", pid, spec.namespace))

    # ---------------------------------------------------------------- readiness

    def endpoints(self) -> list[tuple[LabHost, str, int, str, str]]:
        """(host, address, port, service, daemon) of every TCP endpoint of the running parts."""
        result = []
        for h in self.hosts():
            addresses = _dense_addresses() if h is DENSE_HOST else [h.address]
            for s in h.services:
                if s.transport == "tcp":
                    result += [(h, a, s.port, s.service, s.daemon) for a in addresses]
        return result

    def probe(self, deadline: float = 0.0, connect_timeout: float = 2.0) -> list[EndpointStatus]:
        """Try every endpoint from inside the scanner namespace (retrying until ``deadline``)."""
        eps = self.endpoints()
        request = {
            "endpoints": [[a, p, BANNERS.get(svc, "")] for _, a, p, svc, _ in eps],
            "deadline": deadline,
            "connect_timeout": connect_timeout,
        }
        argv = proc.in_ns(SCANNER_NS, [sys.executable, "-I", "-S", str(PROBE_SCRIPT)])
        done = proc.run(argv, input_text=json.dumps(request), timeout=deadline + 3 * connect_timeout + 15)
        pending = {(a, p): reason for a, p, reason in json.loads(done.stdout)["pending"]}
        return [
            EndpointStatus(h.name, a, p, svc, d, (a, p) not in pending, pending.get((a, p), ""))
            for h, a, p, svc, d in eps
        ]

    def wait_ready(self, timeout: float = 45.0) -> None:
        """Wait until every endpoint accepts from gs-scan; fail fast if a daemon died.

        Raises LabError naming each failing daemon with the tail of its logs.
        """
        deadline = time.monotonic() + timeout
        while True:
            dead = self._dead_specs()
            if dead:
                raise LabError(self._describe_failures(dead, "exited during start-up"))
            remaining = deadline - time.monotonic()
            statuses = self.probe(deadline=max(0.0, min(2.0, remaining)), connect_timeout=1.0)
            failing = [s for s in statuses if not s.accepting]
            if not failing:
                return
            if time.monotonic() >= deadline:
                lines = [f"  {s.host} {s.address}:{s.port} ({s.daemon}): {s.reason}" for s in failing]
                specs = self._specs_for(failing)
                raise LabError(
                    f"lab not ready after {timeout:.0f}s:\n"
                    + "\n".join(lines)
                    + "\n"
                    + self._describe_failures(specs, "not accepting")
                )

    def _dead_specs(self) -> list[DaemonSpec]:
        return [
            spec
            for spec in self._specs
            for rec in self.processes
            if rec.name == spec.name and not proc.is_running(rec.pid)
        ]

    def _specs_for(self, failing: Sequence[EndpointStatus]) -> list[DaemonSpec]:
        keys = {(s.host, s.daemon) for s in failing}
        return [sp for sp in self._specs if any((sp.host, k) in keys for k in sp.kinds)]

    @staticmethod
    def _describe_failures(specs: Sequence[DaemonSpec], what: str) -> str:
        parts = []
        for spec in specs:
            logs = "\n".join(f"--- {p}\n{proc.tail(p)}" for p in (spec.console, *spec.logs))
            parts.append(f"daemon {spec.name} {what} (argv: {' '.join(spec.argv)})\n{logs}")
        return "\n".join(parts)

    # ---------------------------------------------------------------- status

    def is_up(self) -> bool:
        """The state file says up, its namespaces exist and every recorded process runs."""
        if not self.processes or self.workdir is None:
            return False
        existing = set(netns.lab_namespaces())
        return set(self.namespaces) <= existing and all(proc.still_ours(p) for p in self.processes)

    def healthy(self) -> bool:
        return self.is_up() and all(s.accepting for s in self.probe(deadline=1.0, connect_timeout=1.0))

    def status(self) -> list[EndpointStatus]:
        """Every endpoint of the running lab and whether it accepts now (empty if not up)."""
        if self.workdir is None or SCANNER_NS not in netns.lab_namespaces():
            return []
        return self.probe(deadline=0.0, connect_timeout=1.0)

    # ---------------------------------------------------------------- scanner

    def scanner_cmd(self, args: Sequence[str], *, trust_lab_ca: bool = True) -> list[str]:
        """``args`` prefixed to run inside gs-scan. With ``trust_lab_ca`` OpenSSL-based clients
        (Python's ssl default context included) trust the lab CA through SSL_CERT_FILE."""
        env = ["env", f"SSL_CERT_FILE={self.trust_bundle}"] if trust_lab_ca and self.workdir else []
        return proc.in_ns(SCANNER_NS, [*env, *args])

    def run_in_scanner(
        self, args: Sequence[str], timeout: float = 60.0, *, trust_lab_ca: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside gs-scan and capture its output (TimeoutExpired past ``timeout``)."""
        return subprocess.run(
            self.scanner_cmd(args, trust_lab_ca=trust_lab_ca),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def run_in(self, namespace: str, args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside any lab namespace (a host's, to test from its side)."""
        if not namespace.startswith(NS_PREFIX):
            raise LabError(f"not a lab namespace: {namespace}")
        return subprocess.run(
            proc.in_ns(namespace, args),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    # ---------------------------------------------------------------- down

    def down(self, *, wait_reaped: bool = True) -> list[str]:
        """End every lab process, delete the namespaces, /etc/netns entries, work dir and state.

        With ``wait_reaped`` it also waits (bounded) until the killed daemons' exit statuses are
        collected, so `ps` right after `down` shows no <defunct> entries (orphans are reaped by
        PID 1, lazily on these machines). Returns what could not be removed (empty when clean).
        """
        problems, pids = self._teardown(self.processes, self.workdir)
        for popen in self._popens.values():  # our own children: reap them here
            try:
                popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                problems.append(f"pid {popen.pid} did not exit")
        if wait_reaped:
            proc.wait_gone(pids, timeout=ZOMBIE_WAIT)
        self._popens.clear()
        self.processes, self.namespaces, self.workdir, self.parts = [], [], None, ()
        self._specs = []
        self.state_file.unlink(missing_ok=True)
        return problems

    def cleanup_leftovers(self) -> list[str]:
        """Remove what an earlier (maybe crashed) run left: recorded PIDs, every process in a
        gs-* namespace, the namespaces, /etc/netns/gs-*, /tmp/gslab-* and the state file.
        Namespace names are fixed, so only one lab can exist on a machine: all of it is ours."""
        problems = self.down(wait_reaped=False)
        for stale in Path("/tmp").glob(f"{WORK_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        return problems

    @staticmethod
    def _teardown(records: Sequence[ProcRecord], workdir: Path | None) -> tuple[list[str], set[int]]:
        problems: list[str] = []
        existing = netns.lab_namespaces()
        # Recorded PIDs only if they are still the same processes (PID + start time), plus
        # whatever runs inside a lab namespace: daemons' forked children, a crashed run's rest.
        pids = {r.pid for r in records if proc.still_ours(r)}
        for ns in existing:
            pids |= set(netns.namespace_pids(ns))
        survivors = proc.terminate(pids)
        if survivors:
            problems.append(f"processes still running after SIGKILL: {survivors}")
        problems += netns.delete(existing)
        netns.remove_etc()
        if workdir is not None and workdir.name.startswith(WORK_PREFIX) and workdir.parent == Path("/tmp"):
            shutil.rmtree(workdir, ignore_errors=True)
        return problems, pids
