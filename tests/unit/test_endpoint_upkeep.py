"""Backups, patches, accounts and software (issue 20) on real and documented outputs, and the checks'
verdicts on hand-built facts (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from checks.endpoint import accounts_linux, backup_linux, patches_linux
from checks.endpoint.accounts_weak import AccountsWeak
from checks.endpoint.backup_common import cloud_vendor, redact
from checks.endpoint.backup_missing import BackupMissing
from checks.endpoint.backup_stale import BackupStale
from checks.endpoint.backup_unencrypted import BackupUnencrypted
from checks.endpoint.commands import Command, CommandResult
from checks.endpoint.inventory import BackupJob, Backups, EndpointInventory, Patches, PendingUpdate
from checks.endpoint.patches_pending import PatchesPending
from checks.endpoint.probe import EndpointCollector, EndpointFacts
from checks.endpoint.windows.maintenance import backups_from, filetime, patches_from
from checks.endpoint.windows.records import RegistrySnapshot, WmiResult
from scanner.models import Finding, Target, Undetermined

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "endpoint"
TARGET = Target(host="192.0.2.41")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def result(key: str, stdout: str = "", status: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult(Command(key, ("true",)), status, stdout, stderr)


def facts(**sections: Any) -> dict[Any, Any]:
    inv = EndpointInventory(collector="ssh", os=None, disk=None, screen_lock=None, firewall=None, antimalware=None,
                            sync_clients=None, account="tech", collected_at=NOW, **sections)
    return {EndpointCollector: EndpointFacts(host="192.0.2.41", inventory=inv,
                                             credential="credential 'x'")}


def test_no_backup_configured_fails_on_a_real_collection() -> None:
    recorded = json.loads((FIXTURES / "linux" / "no-backup-configured.json").read_text())["results"]
    results = {k: result(k, v["stdout"], v["exit_status"], v["stderr"]) for k, v in recorded.items()}
    backups = backup_linux.parse_backup(results)
    assert backups.jobs == ()
    (finding,) = BackupMissing().evaluate(TARGET, facts(backup=backups))
    assert isinstance(finding, Finding) and not finding.passed and "no backup configured" in finding.detail


def test_schedules_name_repositories_and_secrets_are_masked() -> None:
    grep = ("/etc/cron.d/restic:2:30 1 * * * root RESTIC_PASSWORD=hunter2 restic -r /srv/restic backup /home\n"
            "/etc/systemd/system/borg.service:5:ExecStart=/usr/bin/borg create /srv/borg::{now} /home\n"
            "/etc/cron.d/old:1:# restic -r /nowhere backup\n")
    results = {"backup_schedules": result("backup_schedules", grep), "systemd_units": result("u", "borg.timer\n")}
    keys = [c.key for c in backup_linux.followups(results, (("/srv/restic", "/etc/restic.pass"),))]
    assert keys == ["restic_dir:/srv/restic", "restic:/srv/restic", "borg:/srv/borg"]
    assert "hunter2" not in redact(grep) and "RESTIC_PASSWORD=***" in redact(grep)
    backups = backup_linux.parse_backup(results)
    assert "hunter2" not in json.dumps([o.output for o in backups.observations])
    assert {j.tool for j in backups.jobs} == {"restic", "BorgBackup"}
    borg = next(j for j in backups.jobs if j.tool == "BorgBackup")
    assert borg.scheduled == "systemd borg.service with borg.timer" and borg.time_unknown


def test_restic_without_password_is_encrypted_but_its_age_is_an_error() -> None:
    results = {"backup_schedules": result("backup_schedules", "/etc/crontab:3:0 2 * * * root restic -r /srv/r backup"),
               "restic_dir:/srv/r": result("restic_dir:/srv/r", "config\ndata\nindex\nkeys\nlocks\nsnapshots\n")}
    backups = backup_linux.parse_backup(results)
    (job,) = backups.jobs
    assert job.encrypted is True and job.last_success is None and "password file" in (job.time_unknown or "")
    (stale,) = BackupStale().evaluate(TARGET, facts(backup=backups))
    assert isinstance(stale, Undetermined)
    (enc,) = BackupUnencrypted().evaluate(TARGET, facts(backup=backups))
    assert isinstance(enc, Finding) and enc.passed


def test_borg_modes_and_stale_limit() -> None:
    listing = json.dumps({"archives": [{"time": "2026-11-20T08:00:00.000000"}], "encryption": {"mode": "none"}})
    results = {"backup_schedules": result("backup_schedules", "/etc/cron.d/b:1:0 3 * * * root borg create /b::x /h"),
               "borg:/b": result("borg:/b", listing), "clock": result("clock", "2026-12-02T13:00:00+0100")}
    backups = backup_linux.parse_backup(results)
    (job,) = backups.jobs
    assert job.encrypted is False and job.last_success == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    (stale,) = BackupStale().evaluate(TARGET, facts(backup=backups))
    assert isinstance(stale, Finding) and not stale.passed and "limit 48 h" in stale.detail


def test_consumer_cloud_destination_names_the_vendor() -> None:
    assert cloud_vendor("/home/dr/Google Drive/Backups") == "Google Drive"
    assert cloud_vendor("/Users/dr/Library/CloudStorage/Dropbox/tm") == "Dropbox"
    assert cloud_vendor("s3:s3.amazonaws.com/bucket") == "Amazon S3 (or an S3-compatible store)"
    assert cloud_vendor("/var/backups/restic") is None
    job = BackupJob(tool="restic", destination="/home/dr/Dropbox/restic", encrypted=True, encryption_note="x",
                    last_success=NOW, cloud_vendor="Dropbox")
    (finding,) = BackupUnencrypted().evaluate(TARGET, facts(backup=Backups(jobs=(job,), observations=())))
    assert isinstance(finding, Finding) and [p.vendor for p in finding.third_parties] == ["Dropbox"]


APT = """Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  openssl sudo
Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian:12.8/stable [amd64])
Inst sudo [1.9.13p3-1+deb12u1] (1.9.13p3-1+deb12u2 Debian-Security:12/stable-security [amd64])
Conf sudo (1.9.13p3-1+deb12u2 Debian-Security:12/stable-security [amd64])
"""


def test_apt_security_origin_and_history() -> None:
    history = "Start-Date: 2026-10-01  09:00:00\nCommandline: apt upgrade\nUpgrade: a:amd64 (1, 2)\nEnd-Date: x\n"
    results = {"apt_simulate": result("apt_simulate", APT), "apt_history": result("apt_history", history),
               "clock": result("clock", "2026-12-02T12:00:00+0000")}
    patches = patches_linux.parse_patches(results)
    assert [(u.package, u.security) for u in patches.pending] == [("openssl", False), ("sudo", True)]
    assert patches.last_install == datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    (finding,) = PatchesPending().evaluate(TARGET, facts(patches=patches))
    assert isinstance(finding, Finding) and not finding.passed and "62 days" in finding.detail


def test_dnf_advisory_dates_decide() -> None:
    listed = ("FEDORA-2026-1a Critical/Sec.  openssl-1:3.1.4-2.fc41.x86_64\n"
              "FEDORA-2026-2b Moderate/Sec.  curl-8.9-1.fc41.x86_64\n")
    info = "  Update ID: FEDORA-2026-1a\n       Type: security\n     Issued: 2026-11-01 00:00:00\n" \
           "  Update ID: FEDORA-2026-2b\n     Issued: 2026-11-25 00:00:00\n"
    rpm = "openssl-libs-3.1.1-1.fc41.x86_64  Mon 30 Nov 2026 10:00:00 AM UTC\n"
    results = {"apt_simulate": result("apt_simulate", "", 127), "dnf_security": result("dnf_security", listed),
               "dnf_security_info": result("dnf_security_info", info), "rpm_last": result("rpm_last", rpm)}
    patches = patches_linux.parse_patches(results)
    assert [(u.package, u.severity) for u in patches.pending] == [("openssl", "Critical"), ("curl", "Moderate")]
    (finding,) = PatchesPending().evaluate(TARGET, facts(patches=patches))
    assert isinstance(finding, Finding) and not finding.passed
    assert "openssl" in finding.detail and "curl" not in finding.detail  # 31 days > 15; 7 days < 30


def test_recent_updates_and_nothing_pending_pass() -> None:
    patches = Patches(source="apt", pending=(), observations=(), last_install=NOW - timedelta(days=3))
    (finding,) = PatchesPending().evaluate(TARGET, facts(patches=patches))
    assert isinstance(finding, Finding) and finding.passed
    unknown = Patches(source="apt", pending=(PendingUpdate("sudo", "2", security=True),), observations=())
    (error,) = PatchesPending().evaluate(TARGET, facts(patches=unknown))
    assert isinstance(error, Undetermined)


def test_linux_accounts_from_passwd_status_and_pam() -> None:
    results = {
        "passwd_file": result("p", "root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n"
                              "svc:x:998:998::/:/usr/sbin/nologin\nkiosk:x:1001:1001::/home/k:/bin/bash\n"),
        "passwd_status": result("s", "root L 2026-01-01 0 99999 7 -1\ntoor L 2026-01-01 0 99999 7 -1\n"
                                "svc NP 2026-01-01 0 99999 7 -1\nkiosk NP 2026-01-01 0 99999 7 -1\n"),
        "pam": result("pam", "auth [success=1 default=ignore] pam_unix.so nullok\n"
                      "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n"),
    }
    acc = accounts_linux.parse_accounts(results)
    assert acc.uid0 == ("root", "toor") and acc.no_password == ("kiosk",)
    assert (acc.min_length, acc.lockout_threshold) == (6, 0)
    verdicts = {f.discriminator: f.passed for f in AccountsWeak().evaluate(TARGET, facts(accounts=acc))
                if isinstance(f, Finding)}
    assert verdicts == {"uid0": False, "no_password": False, "lockout": False, "min_length": False}


def test_linux_accounts_without_sudo_are_an_error_for_that_aspect() -> None:
    results = {"passwd_file": result("p", "root:x:0:0::/root:/bin/bash\n"),
               "passwd_status": CommandResult(Command("s", ("passwd",)), None, not_run="needs root; no sudo"),
               "pam": result("pam", "auth required pam_faillock.so preauth deny=4\npassword requisite "
                             "pam_pwquality.so retry=3 minlen=14\n")}
    acc = accounts_linux.parse_accounts(results)
    items = list(AccountsWeak().evaluate(TARGET, facts(accounts=acc)))
    errors = [i for i in items if isinstance(i, Undetermined)]
    assert [e.discriminator for e in errors] == ["no_password"] and errors[0].reason.value == "permission"
    assert all(i.passed for i in items if isinstance(i, Finding))


def test_windows_file_history_and_hotfixes() -> None:
    sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
    stamp = int((datetime(2026, 11, 30, 22, 0, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10**7)
    uninstall = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
    reg = RegistrySnapshot(keys={
        uninstall: {}, f"{uninstall}\\Veeam": {"DisplayName": "Veeam Agent for Microsoft Windows",
                                              "DisplayVersion": "6.1.2.134"},
        f"HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\FileHistory": {"ProtectedUpToTime": stamp}})
    assert filetime(stamp) == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    backups = backups_from(reg)
    assert [j.tool for j in backups.jobs] == ["File History", "Veeam Agent for Microsoft Windows"]
    assert backups.jobs[0].last_success == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    qfe = WmiResult.from_data(json.loads((FIXTURES / "windows" / "wmi" / "qfe.json").read_text()))
    patches = patches_from(reg, qfe)
    assert patches.last_install == datetime(2026, 11, 12, tzinfo=UTC) and not patches.pending_known


def test_windows_without_any_backup_fails() -> None:
    reg = RegistrySnapshot(keys={"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall": {},
                                 "HKU\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\Run": {}})
    backups = backups_from(reg)
    (finding,) = BackupMissing().evaluate(TARGET, facts(backup=backups))
    assert isinstance(finding, Finding) and not finding.passed
