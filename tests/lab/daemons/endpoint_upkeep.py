"""What the lab laptops plant for the backup, patch, account and software checks (issue 20).

Everything lives in the laptop's private mount namespace (bind mounts from the lab's directory);
the machine's own /etc, /root, apt and dpkg state are never written:

- real restic and BorgBackup repositories under /var/backups (a bind mount), scheduled by a cron
  line (/etc/cron.d copy) and a systemd service + timer (/etc/systemd/system copy); root's home is
  a lab directory, so borg's per-user bookkeeping (~/.config/borg/security) is the laptop's own.
  laptop-weak: a restic snapshot taken with ``restic backup --time`` ten days back (restic records
  that time inside the snapshot) and a borg repository made with ``borg init -e none``;
  laptop-good: a restic snapshot taken now.
- a local apt repository (``file:`` source, [trusted=yes]) whose lists are fetched by apt-get
  with private Dir::State::Lists/Dir::Cache into the lab directory: on laptop-weak it offers a newer
  ``sudo`` labelled Debian-Security (a real, empty .deb built with dpkg-deb), so
  ``apt-get -s dist-upgrade`` shows a pending security update; laptop-good's repository offers
  nothing newer. A private /var/log/apt/history.log with its last upgrade 45 days (weak) or 2 days
  (good) before the lab started.
- laptop-weak: a second UID 0 account (toor) and an account with an empty password (kiosk) in
  its private passwd/shadow; Debian's PAM as shipped (no lockout); a dpkg status copy with a
  PostgreSQL 11 entry (ended 2023-11-09), matching its planted Debian 10 release.
  laptop-good: a private /etc/pam.d with pam_faillock deny=5 and pam_unix minlen=12.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

from . import write

RESTIC_REPO = "/var/backups/restic"
RESTIC_PASSWORD_FILE = "/var/backups/restic.pass"
BORG_REPO = "/var/backups/borg"
LAB_PACKAGE = "sudo"
STALE_DAYS = 10


def _run(argv: list[str], env: dict[str, str] | None = None, **kw: object) -> None:
    subprocess.run(argv, check=True, timeout=120, capture_output=True,
                   env={**os.environ, **(env or {})}, **kw)  # type: ignore[call-overload]


def _installed_version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                          check=True, timeout=20)
    return done.stdout.strip()


def _repositories(d: Path, weak: bool) -> None:
    """Real restic/borg repositories, made as the laptop's root (HOME = its private /root)."""
    backups, root_home = d / "backups", d / "roothome"
    if (backups / "restic" / "config").exists():
        return
    backups.mkdir(parents=True, exist_ok=True)
    root_home.mkdir(mode=0o700, exist_ok=True)
    data = d / "home"
    env = {"HOME": str(root_home), "RESTIC_CACHE_DIR": str(root_home / ".cache" / "restic"),
           "BORG_BASE_DIR": str(root_home), "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"}
    pw = write(backups / "restic.pass", "lab-restic-repository-password\n", mode=0o600)
    restic = ["restic", "-q", "-r", str(backups / "restic"), "--password-file", str(pw)]
    _run([*restic, "init"], env)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=STALE_DAYS if weak else 0)
    _run([*restic, "backup", "--host", "laptop", "--time", when.strftime("%Y-%m-%d %H:%M:%S"), str(data)],
         {**env, "TZ": "UTC"})
    if weak:
        # Made where the laptop sees it (a private mount namespace with the lab directory on
        # /var/backups): borg remembers each repository's location and would refuse a moved one.
        script = (f"mount --bind {backups} /var/backups && borg init -e none {BORG_REPO} && "
                  f"borg create {BORG_REPO}::lab-{{now}} {data}")
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env)


def _schedules(d: Path, weak: bool) -> None:
    cron = d / "cron.d"
    if cron.exists():
        shutil.rmtree(cron)
    shutil.copytree("/etc/cron.d", cron, symlinks=True)
    write(cron / "restic-backup", f"# lab: nightly restic backup of /home\n30 1 * * * root restic -r {RESTIC_REPO} "
          f"--password-file {RESTIC_PASSWORD_FILE} backup /home\n")
    units = d / "systemd-system"
    if units.exists():
        shutil.rmtree(units)
    shutil.copytree("/etc/systemd/system", units, symlinks=True)
    if weak:
        write(units / "borg-backup.service", "[Unit]\nDescription=lab borg backup\n\n[Service]\nType=oneshot\n"
              f"ExecStart=/usr/bin/borg create {BORG_REPO}::laptop-{{now}} /home\n")
        write(units / "borg-backup.timer", "[Unit]\nDescription=daily borg backup\n\n[Timer]\nOnCalendar=daily\n"
              "Persistent=true\n\n[Install]\nWantedBy=timers.target\n")


def _apt(d: Path, weak: bool) -> None:
    apt = d / "apt"
    repo = apt / "repo"
    if (apt / "lists").exists():
        shutil.rmtree(apt / "lists")
    for sub in ("repo/pool", "lists/partial", "cache/archives/partial", "sources.list.d", "log"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    if weak:
        newer = _installed_version(LAB_PACKAGE).split("+deb12u")[0] + "+deb12u99"
        pkg = apt / "pkg"
        write(pkg / "DEBIAN" / "control", f"Package: {LAB_PACKAGE}\nVersion: {newer}\nArchitecture: all\n"
              "Maintainer: gapscan lab <lab@invalid>\nDescription: lab stand-in for a pending security update\n")
        _run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(repo / "pool" / f"{LAB_PACKAGE}_{newer}.deb")])
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", "pool"], cwd=repo, capture_output=True,
                              text=True, check=True, timeout=60).stdout
    write(repo / "Packages", packages)
    write(repo / "Release", "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\n"
          "Codename: bookworm-security\nArchitectures: amd64 all\nComponents: main\n")
    write(apt / "sources.list.d" / "lab.list", f"deb [trusted=yes] file:{repo} ./\n")
    empty = write(apt / "no-sources.list", "")
    _run(["apt-get", "-q", "update", "-o", f"Dir::Etc::SourceList={empty}",
          "-o", f"Dir::Etc::SourceParts={apt / 'sources.list.d'}", "-o", f"Dir::State::Lists={apt / 'lists'}",
          "-o", f"Dir::Cache={apt / 'cache'}", "-o", "Debug::NoLocking=1"])
    last = dt.datetime.now() - dt.timedelta(days=45 if weak else 2)
    stamp = last.strftime("%Y-%m-%d  %H:%M:%S")
    write(apt / "log" / "history.log", f"\nStart-Date: {stamp}\nCommandline: apt-get upgrade\n"
          f"Upgrade: tzdata:all (2024a-0+deb12u1, 2025b-0+deb12u1)\nEnd-Date: {stamp}\n")


def _pam_and_dpkg(d: Path, weak: bool) -> None:
    if weak:
        status = Path("/var/lib/dpkg/status").read_text()
        write(d / "dpkg-status", status.rstrip("\n") + "\n\nPackage: postgresql-11\nStatus: install ok installed\n"
              "Priority: optional\nSection: database\nMaintainer: gapscan lab <lab@invalid>\nArchitecture: amd64\n"
              "Version: 11.22-0+deb10u1\nDescription: lab entry: PostgreSQL 11 as Debian 10 shipped it\n\n")
        return
    pam = d / "pam.d"
    if pam.exists():
        shutil.rmtree(pam)
    shutil.copytree("/etc/pam.d", pam, symlinks=True)
    (pam / "common-auth").unlink()
    write(pam / "common-auth", "auth required pam_faillock.so preauth deny=5 unlock_time=900\n"
          "auth [success=1 default=ignore] pam_unix.so\nauth [default=die] pam_faillock.so authfail deny=5\n"
          "auth requisite pam_deny.so\nauth required pam_permit.so\n")
    (pam / "common-password").unlink()
    write(pam / "common-password", "password [success=1 default=ignore] pam_unix.so obscure yescrypt minlen=12\n"
          "password requisite pam_deny.so\npassword required pam_permit.so\n")


def plant(d: Path, weak: bool) -> list[str]:
    """Prepare the laptop's private copies; return the mount lines for its init script."""
    _repositories(d, weak)
    _schedules(d, weak)
    _apt(d, weak)
    _pam_and_dpkg(d, weak)
    apt = d / "apt"
    mounts = [f"mount --bind {d}/backups /var/backups", f"mount --bind {d}/roothome /root",
              f"mount --bind {d}/cron.d /etc/cron.d", f"mount --bind {d}/systemd-system /etc/systemd/system",
              f"mount --bind {apt}/lists /var/lib/apt/lists",
              f"mount --bind {apt}/sources.list.d /etc/apt/sources.list.d",
              f"mount --bind {apt}/log/history.log /var/log/apt/history.log"]
    mounts.append(f"mount --bind {d}/dpkg-status /var/lib/dpkg/status" if weak
                  else f"mount --bind {d}/pam.d /etc/pam.d")
    return mounts


def accounts(weak: bool) -> tuple[str, str]:
    """Extra passwd and shadow lines (laptop-weak: a second UID 0 account, a passwordless one)."""
    if not weak:
        return "", ""
    return ("toor:x:0:0:second root (lab):/root:/bin/bash\nkiosk:x:64102:64102:front desk kiosk (lab):/tmp:/bin/bash\n",
            "toor:!:20000:0:99999:7:::\nkiosk::20000:0:99999:7:::\n")
