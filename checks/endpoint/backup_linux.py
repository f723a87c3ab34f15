"""Linux backups: restic, BorgBackup, Déjà Dup and Timeshift, found where they are scheduled.

What is read (every command read-only, output of schedule files redacted of anything that looks
like a secret):
- Schedules: ``grep -rIn`` for the tools' names in the system crontab, /etc/cron.*, the users'
  crontabs (root only: through sudo) and systemd unit directories; a ``.service`` counts as
  scheduled when a ``.timer`` of the same name exists.
- restic (restic manual, "Preparing a new repository"): every repository is encrypted (AES-256 in
  counter mode with Poly1305-AES), so a directory with restic's ``config`` and ``keys`` is an
  encrypted backup. Snapshot times are *inside* the encrypted repository: ``restic snapshots
  --json`` runs only for a repository whose password file the credentials file names (the
  password never leaves the endpoint), with ``--no-lock --no-cache`` so nothing is written.
  Otherwise its last backup time is unknown (``error``), never guessed from file times.
- BorgBackup: ``borg list --json --last 1 --bypass-lock REPO`` (borg 1.2 documentation, "borg
  list"): ``encryption.mode`` (``none`` is unencrypted; ``authenticated`` only signs) and the
  newest archive's time (local time of the endpoint). A repository that needs a passphrase is
  encrypted or authenticated: which, borg does not say without it, so the mode stays unknown.
- Déjà Dup (GNOME): ``gsettings list-recursively org.gnome.DejaDup``: last-backup, periodic,
  backend and its folder. Déjà Dup keeps no "encrypted" setting (the password lives in the
  keyring), so its encryption is unknown from settings.
- Timeshift: /etc/timeshift/timeshift.json and the snapshot folders; Timeshift never encrypts.

Only repositories on a local path are opened: a remote one (sftp:, s3:, ssh://) would make the
endpoint contact the backup server, which a read-only collection must not do.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone

from .backup_common import cloud_vendor, endpoint_offset, iso_time, local_time, redacted
from .commands import Command, CommandResult, Results
from .inventory import BackupJob, Backups, Observation, Unknown

SCHEDULE_PLACES = ("/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly",
                   "/etc/cron.monthly", "/var/spool/cron/crontabs", "/etc/systemd/system", "/etc/systemd/user")
TOOLS = ("restic", "borg", "timeshift", "deja-dup", "duplicity")
SCHEDULES = Command("backup_schedules", ("grep", "-rIn", *(w for t in TOOLS for w in ("-e", t)), *SCHEDULE_PLACES),
                    prefer_root=True)
UNITS = Command("systemd_units", ("ls", "-1", "/etc/systemd/system", "/etc/systemd/system/timers.target.wants",
                                  "/etc/systemd/user"))
DEJADUP = Command("dejadup", ("gsettings", "list-recursively", "org.gnome.DejaDup"))
TIMESHIFT = Command("timeshift", ("cat", "/etc/timeshift/timeshift.json"))
TIMESHIFT_SNAPSHOTS = Command("timeshift_snapshots", ("ls", "-1", "/timeshift/snapshots",
                                                      "/run/timeshift/backup/timeshift/snapshots"), prefer_root=True)
COMMANDS: tuple[Command, ...] = (SCHEDULES, UNITS, DEJADUP, TIMESHIFT, TIMESHIFT_SNAPSHOTS)

LOCAL_PATH = re.compile(r"^/[A-Za-z0-9._/@%+,=-]{1,200}$")
MAX_REPOSITORIES = 10


def _safe_path(path: str) -> bool:
    return bool(LOCAL_PATH.match(path)) and "/../" not in path + "/"


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=False)
    except ValueError:
        return line.split()


def _restic_repository(words: list[str]) -> str | None:
    for i, word in enumerate(words):
        if word in ("-r", "--repo") and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--repo="):
            return word.split("=", 1)[1]
        if "RESTIC_REPOSITORY=" in word:
            return word.split("RESTIC_REPOSITORY=", 1)[1].strip("\"'")
    return None


def _borg_repository(words: list[str]) -> str | None:
    for word in words:
        if "BORG_REPO=" in word:
            return word.split("BORG_REPO=", 1)[1].strip("\"'").split("::", 1)[0] or None
    for word in words:
        if "::" in word and not word.startswith("-"):
            return word.split("::", 1)[0] or None
    return None


class Scheduled:
    """What the schedule files say: (tool, repository or "") -> where it is scheduled."""

    def __init__(self, schedules: CommandResult | None, units: CommandResult | None) -> None:
        self.jobs: dict[tuple[str, str], str] = {}
        self.unreadable: list[str] = []
        if schedules is None:
            return
        self.unreadable = re.findall(r"grep: ([^:]+): Permission denied", schedules.stderr)
        timers = set(units.stdout.split() if units is not None and units.exit_status in (0, 1, 2) else [])
        for line in schedules.stdout.splitlines():
            path, _, rest = line.partition(":")
            _lineno, _, text = rest.partition(":")
            stripped = text.strip()
            if not stripped or stripped.startswith("#") or not path:
                continue
            words = _words(stripped)
            where = self._where(path, timers)
            commands = " ".join(words)
            if re.search(r"(^|[\s/=])restic(\s|$)", commands):
                self.jobs.setdefault(("restic", _restic_repository(words) or ""), where)
            if re.search(r"(^|[\s/=])borg(\s|$)", commands) and " create" in f" {commands}":
                self.jobs.setdefault(("borg", _borg_repository(words) or ""), where)
            if "timeshift" in commands:
                self.jobs.setdefault(("timeshift", ""), where)
            if "deja-dup" in commands or "duplicity" in commands:
                self.jobs.setdefault(("dejadup", ""), where)

    @staticmethod
    def _where(path: str, timers: set[str]) -> str:
        name = path.rsplit("/", 1)[-1]
        if "/systemd/" in path:
            if name.endswith(".service") and name[:-8] + ".timer" in timers:
                return f"systemd {name} with {name[:-8]}.timer"
            if name.endswith(".timer"):
                return f"systemd {name}"
            return f"systemd {name} (no timer of that name found: may run only when started)"
        return f"cron {path}"

    def repositories(self, tool: str) -> list[str]:
        return [repo for (t, repo) in self.jobs if t == tool and repo]


def followups(results: Results, restic_passwords: Iterable[tuple[str, str]] = ()) -> tuple[Command, ...]:
    """Per repository: restic's directory listing (or snapshots, given a password file), borg list."""
    scheduled = Scheduled(results.get("backup_schedules"), results.get("systemd_units"))
    passwords = {repo: pw for repo, pw in restic_passwords}
    out: list[Command] = []
    restic_repos = list(dict.fromkeys([*scheduled.repositories("restic"), *passwords]))[:MAX_REPOSITORIES]
    for repo in restic_repos:
        if not _safe_path(repo):
            continue
        out.append(Command(f"restic_dir:{repo}", ("ls", "-1", repo), prefer_root=True))
        password_file = passwords.get(repo)
        if password_file and _safe_path(password_file):
            out.append(Command(f"restic:{repo}", ("restic", "-r", repo, "--password-file", password_file, "--no-lock",
                                                  "--no-cache", "--json", "snapshots"), prefer_root=True))
    for repo in scheduled.repositories("borg")[:MAX_REPOSITORIES]:
        if _safe_path(repo):
            out.append(Command(f"borg:{repo}", ("borg", "list", "--json", "--last", "1", "--bypass-lock", repo),
                               prefer_root=True))
    return tuple(out)


def parse_backup(results: Results) -> Backups:
    """The backup jobs: from the schedules, plus repositories the credentials file named (their
    ``restic_dir:`` follow-up is in the results; ``restic:`` only where a password file was named)."""
    schedules = results.get("backup_schedules")
    if schedules is None or schedules.not_run or schedules.exit_status not in (0, 1, 2):
        raise Unknown(schedules.why_failed() if schedules is not None else "backup schedules not collected")
    observations: list[Observation] = [redacted(schedules.observation())]
    scheduled = Scheduled(schedules, results.get("systemd_units"))
    offset = endpoint_offset(results)
    jobs: list[BackupJob] = []
    named = [key.split(":", 1)[1] for key in results if key.startswith("restic_dir:")]
    restic_repos = list(dict.fromkeys([*scheduled.repositories("restic"), *named]))[:MAX_REPOSITORIES]
    for repo in restic_repos:
        where = scheduled.jobs.get(("restic", repo), "named in the credentials file")
        jobs.append(_restic_job(results, repo, where, f"restic:{repo}" in results, observations))
    for repo in scheduled.repositories("borg")[:MAX_REPOSITORIES]:
        jobs.append(_borg_job(results, repo, scheduled.jobs[("borg", repo)], offset, observations))
    for (tool, repo), where in scheduled.jobs.items():
        if not repo and tool in ("restic", "borg"):
            jobs.append(BackupJob(tool="restic" if tool == "restic" else "BorgBackup", destination="(not named)",
                                  encrypted=True if tool == "restic" else None,
                                  encryption_note="restic encrypts every repository" if tool == "restic" else
                                  "the repository is not named on the schedule line (BORG_REPO set elsewhere?)",
                                  scheduled=where, time_unknown="the repository is not named where it is scheduled"))
    dejadup = _dejadup_job(results, scheduled, observations)
    if dejadup is not None:
        jobs.append(dejadup)
    timeshift = _timeshift_job(results, scheduled, offset, observations)
    if timeshift is not None:
        jobs.append(timeshift)
    if not jobs and scheduled.unreadable:
        raise Unknown(f"permission denied reading {', '.join(scheduled.unreadable[:3])}: allow sudo for grep, or "
                      "use an administrator account, to see every user's crontab")
    return Backups(jobs=tuple(jobs), observations=tuple(observations))


def _restic_job(results: Results, repo: str, where: str, has_password: bool,
                observations: list[Observation]) -> BackupJob:
    vendor = cloud_vendor(repo)
    base = BackupJob(tool="restic", destination=repo, encrypted=None, encryption_note="", scheduled=where,
                     cloud_vendor=vendor)
    note = "restic encrypts every repository (AES-256-CTR with Poly1305-AES)"
    if not _safe_path(repo):
        return replace(base, encrypted=True, encryption_note=note,
                         time_unknown="a remote repository: reading it would make the endpoint contact the backup "
                                      "server, so its snapshots were not listed")
    listing = results.get(f"restic_dir:{repo}")
    if listing is not None:
        observations.append(listing.observation())
    if listing is None or not listing.ok:
        why = listing.why_failed() if listing is not None else "not listed"
        return replace(base, encrypted=None, encryption_note=f"repository directory unreadable ({why})",
                         time_unknown=f"repository directory unreadable ({why})")
    entries = set(listing.stdout.split())
    if not {"config", "keys"} <= entries:
        return replace(base, encrypted=None, encryption_note="no restic repository at this path (no config/keys)",
                         time_unknown="no restic repository at this path (no config/keys)")
    if not has_password:
        return replace(base, encrypted=True, encryption_note=note + "; repository files config and keys present",
                         time_unknown="snapshot times are inside the encrypted repository: name its password file "
                                      "in the credentials file (restic_repositories) to read them")
    snaps = results.get(f"restic:{repo}")
    if snaps is not None:
        observations.append(snaps.observation())
    if snaps is None or not snaps.ok:
        why = snaps.why_failed() if snaps is not None else "not run"
        return replace(base, encrypted=True, encryption_note=note, time_unknown=f"restic snapshots: {why}")
    try:
        listed = json.loads(snaps.stdout)
        times = [iso_time(str(s["time"])) for s in listed] if isinstance(listed, list) else None
    except (ValueError, KeyError, TypeError):
        times = None
    if times is None or any(t is None for t in times):
        return replace(base, encrypted=True, encryption_note=note,
                         time_unknown="restic snapshots --json printed something this parser does not read")
    newest = max((t for t in times if t is not None), default=None)
    return replace(base, encrypted=True, encryption_note=note, last_success=newest,
                     last_note=f"newest of {len(times)} snapshot(s) (restic snapshots --json)" if newest else
                     "the repository holds no snapshot")


def _borg_job(results: Results, repo: str, where: str, offset: timezone | None,
              observations: list[Observation]) -> BackupJob:
    base = BackupJob(tool="BorgBackup", destination=repo, encrypted=None, encryption_note="", scheduled=where,
                     cloud_vendor=cloud_vendor(repo))
    listed = results.get(f"borg:{repo}")
    if listed is None:
        return replace(base, encrypted=None, encryption_note="not read (remote or unsafe repository path)",
                         time_unknown="a remote repository: borg list would make the endpoint contact it")
    observations.append(listed.observation())
    text = listed.stdout + listed.stderr
    if not listed.ok:
        if "unknown unencrypted repository" in text:
            return replace(base, encrypted=False, encryption_note="borg: 'previously unknown unencrypted "
                             "repository' (encryption mode none)",
                             time_unknown="borg asked for confirmation before listing an unencrypted repository")
        if "passphrase" in text.lower():
            return replace(base, encrypted=None,
                             encryption_note="the repository needs a passphrase: encrypted, or 'authenticated' "
                                             "(signed only); borg does not say which without it",
                             time_unknown="the archive list needs the repository's passphrase")
        return replace(base, encrypted=None, encryption_note=listed.why_failed(), time_unknown=listed.why_failed())
    try:
        data = json.loads(listed.stdout)
        mode = str(data["encryption"]["mode"])
        archives = data.get("archives") or []
        newest_text = str(archives[-1]["time"]) if archives else None
    except (ValueError, KeyError, TypeError, IndexError):
        raise Unknown(f"borg list --json for {repo}: output this parser does not read") from None
    encrypted = not (mode == "none" or mode.startswith("authenticated"))
    note = f"borg encryption mode {mode}" + ("" if encrypted else " (data stored in the clear)")
    if newest_text is None:
        return replace(base, encrypted=encrypted, encryption_note=note, last_note="the repository has no archive")
    when = local_time(newest_text, offset)
    if when is None:
        return replace(base, encrypted=encrypted, encryption_note=note,
                         time_unknown=f"archive time {newest_text!r} is local time and the endpoint's UTC offset "
                                      "was not read")
    return replace(base, encrypted=encrypted, encryption_note=note, last_success=when,
                     last_note="newest archive (borg list --json --last 1)")


def _gsettings_map(text: str) -> dict[tuple[str, str], str]:
    values: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            values[(parts[0], parts[1])] = parts[2].strip()
    return values


def _dejadup_job(results: Results, scheduled: Scheduled, observations: list[Observation]) -> BackupJob | None:
    res = results.get("dejadup")
    if res is None or res.not_found or (res.exit_status == 1 and "No such schema" in res.stderr):
        if res is not None:
            observations.append(res.observation())
        return None
    observations.append(res.observation())
    if not res.ok:
        raise Unknown(res.why_failed())
    if "memory' GSettings backend" in res.stderr:
        raise Unknown("gsettings fell back to its 'memory' backend: Déjà Dup's settings cannot be read")
    values = _gsettings_map(res.stdout)
    last = values.get(("org.gnome.DejaDup", "last-backup"), "''").strip("'")
    periodic = values.get(("org.gnome.DejaDup", "periodic"), "false") == "true"
    backend = values.get(("org.gnome.DejaDup", "backend"), "'auto'").strip("'")
    if not last and not periodic and ("dejadup", "") not in scheduled.jobs:
        return None  # installed, never set up
    folder = values.get((f"org.gnome.DejaDup.{backend.capitalize()}", "folder"), "").strip("'")
    uri = values.get(("org.gnome.DejaDup.Remote", "uri"), "").strip("'")
    destination = {"google": f"Google Drive ({folder or 'default folder'})",
                   "microsoft": f"Microsoft OneDrive ({folder or 'default folder'})",
                   "remote": uri or "remote location", "local": folder or "local folder",
                   "drive": f"removable drive ({folder or 'default folder'})"}.get(backend, backend)
    vendor = {"google": "Google Drive", "microsoft": "Microsoft OneDrive"}.get(backend) or cloud_vendor(destination)
    when = iso_time(last) if last else None
    return BackupJob(tool="Déjà Dup", destination=destination, encrypted=None,
                     encryption_note="Déjà Dup keeps no encryption setting (the password is in the keyring): "
                                     "confirm the backup asks for its encryption password",
                     last_success=when, last_note="org.gnome.DejaDup last-backup" if when else "",
                     time_unknown=None if when or not last else f"last-backup {last!r} is not a time",
                     scheduled="Déjà Dup periodic backup" if periodic else scheduled.jobs.get(("dejadup", ""), ""),
                     cloud_vendor=vendor)


def _timeshift_job(results: Results, scheduled: Scheduled, offset: timezone | None,
                   observations: list[Observation]) -> BackupJob | None:
    conf = results.get("timeshift")
    if conf is None or conf.not_run or conf.exit_status != 0:
        if ("timeshift", "") not in scheduled.jobs:
            return None
        conf_text = ""
    else:
        observations.append(conf.observation())
        conf_text = conf.stdout
    try:
        config = json.loads(conf_text) if conf_text else {}
    except ValueError:
        raise Unknown("/etc/timeshift/timeshift.json is not JSON") from None
    schedule = [k[len("schedule_"):] for k, v in config.items() if k.startswith("schedule_") and str(v) == "true"]
    snaps = results.get("timeshift_snapshots")
    names: list[str] = []
    if snaps is not None:
        observations.append(snaps.observation())
        names = re.findall(r"^(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)$", snaps.stdout, re.M)
    times = [t for t in (local_time(n, offset) for n in names) if t is not None]
    newest: datetime | None = max(times) if times else None
    if newest is None and names:
        unread: str | None = "the endpoint's UTC offset was not read"
    elif newest is None and (snaps is None or snaps.exit_status not in (0, 1)):
        unread = "no snapshot folder could be listed (the backup device is mounted only while Timeshift runs)"
    else:
        unread = None
    return BackupJob(tool="Timeshift", destination=f"device {config.get('backup_device_uuid') or '(not set)'}",
                     encrypted=False, encryption_note="Timeshift does not encrypt its snapshots",
                     last_success=newest, last_note="newest snapshot folder name (local time)" if newest else "",
                     time_unknown=unread, scheduled=", ".join(schedule) or scheduled.jobs.get(("timeshift", ""), ""))
