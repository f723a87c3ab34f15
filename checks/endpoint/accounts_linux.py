"""Linux accounts: more than one UID 0, accounts without a password, PAM lockout and minimum length.

- /etc/passwd: every account whose UID is 0 has root's powers; one is expected (root).
- ``passwd -S -a`` (root, through sudo): status ``NP`` means the account has no password at all;
  an NP account with a login shell can be logged on to with an empty password wherever PAM allows
  ``nullok``.
- PAM (Debian's common-auth/common-password, Red Hat's system-auth/password-auth): a lockout
  module in the auth stack (pam_faillock ``deny=N``, default 3 per pam_faillock(8), or
  /etc/security/faillock.conf; pam_tally2 ``deny=N``) and the minimum length of new passwords
  (pam_pwquality/pam_cracklib ``minlen=N`` or /etc/security/pwquality.conf, libpwquality's
  default 8; pam_unix ``minlen=N`` with ``obscure``, pam_unix(8)'s default 6; pam_unix alone
  refuses only an empty password).
"""

from __future__ import annotations

import re

from .commands import Command, Results, need
from .inventory import Accounts, Unknown

PASSWD = Command("passwd_file", ("cat", "/etc/passwd"))
PASSWD_STATUS = Command("passwd_status", ("passwd", "-S", "-a"), root=True)
PAM = Command("pam", ("cat", "/etc/pam.d/common-auth", "/etc/pam.d/common-password", "/etc/pam.d/system-auth",
                      "/etc/pam.d/password-auth"))
PAM_CONF = Command("pam_conf", ("cat", "/etc/security/faillock.conf", "/etc/security/pwquality.conf"))
COMMANDS: tuple[Command, ...] = (PASSWD, PASSWD_STATUS, PAM, PAM_CONF)
NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync")


def _conf_value(text: str, key: str) -> int | None:
    match = re.findall(rf"^\s*{key}\s*=\s*(-?\d+)\s*$", text, re.M)
    return int(match[-1]) if match else None


def _arg(line: str, name: str) -> int | None:
    match = re.search(rf"\b{name}=(-?\d+)\b", line)
    return int(match.group(1)) if match else None


def parse_accounts(results: Results) -> Accounts:
    passwd = need(results, "passwd_file")
    observations = [passwd.observation()]
    shells: dict[str, str] = {}
    uid0: list[str] = []
    for line in passwd.stdout.splitlines():
        fields = line.split(":")
        if len(fields) >= 7:
            shells[fields[0]] = fields[6]
            if fields[2] == "0":
                uid0.append(fields[0])
    if not shells:
        raise Unknown("/etc/passwd lists no account")
    status = results.get("passwd_status")
    no_password: tuple[str, ...] | None = None
    unread: list[tuple[str, str]] = []
    if status is None or not status.ok:
        unread.append(("no_password", status.why_failed() if status is not None else "passwd -S -a not collected"))
    if status is not None:
        observations.append(status.observation())
        if status.ok:
            rows = [line.split() for line in status.stdout.splitlines() if line.strip()]
            if not rows or any(len(r) < 2 or r[1] not in ("P", "NP", "L", "PS", "LK") for r in rows):
                raise Unknown("passwd -S -a printed a status this parser does not read (expected P, NP or L)")
            no_password = tuple(r[0] for r in rows if r[1] == "NP" and shells.get(r[0], "") not in NO_LOGIN_SHELLS)
    pam = results.get("pam")
    conf = results.get("pam_conf")
    for r in (pam, conf):
        if r is not None:
            observations.append(r.observation())
    if pam is None or pam.not_run or not pam.stdout.strip():
        raise Unknown(pam.why_failed() if pam is not None else "PAM configuration not collected")
    conf_text = conf.stdout if conf is not None and conf.not_run is None else ""
    lines = [line.strip() for line in pam.stdout.splitlines() if line.strip() and not line.strip().startswith("#")]
    lockout, lockout_where = 0, "no pam_faillock or pam_tally2 in the auth stack"
    for line in lines:
        if line.startswith("auth") and "pam_faillock.so" in line:
            deny = _arg(line, "deny") or _conf_value(conf_text, "deny") or 3
            lockout, lockout_where = deny, f"pam_faillock deny={deny}"
            break
        if line.startswith("auth") and "pam_tally2.so" in line:
            deny = _arg(line, "deny") or 0
            lockout, lockout_where = deny, f"pam_tally2 deny={deny}"
            break
    min_length, min_where = 0, "no password quality module"
    for line in lines:
        if not line.startswith("password"):
            continue
        if "pam_pwquality.so" in line or "pam_cracklib.so" in line:
            value = _arg(line, "minlen") or _conf_value(conf_text, "minlen") or 8
            module = "pam_pwquality" if "pwquality" in line else "pam_cracklib"
            min_length, min_where = value, f"{module} minlen={value}"
            break
        if "pam_unix.so" in line:
            if "obscure" in line:
                value = _arg(line, "minlen") or 6
                min_length, min_where = value, f"pam_unix obscure minlen={value}"
            else:
                min_length, min_where = 1, "pam_unix without obscure or minlen: only an empty password is refused"
    return Accounts(observations=tuple(observations), source="/etc/passwd, passwd -S -a, PAM",
                    uid0=tuple(uid0), no_password=no_password, min_length=min_length, min_length_where=min_where,
                    lockout_threshold=lockout, lockout_where=lockout_where, unread=tuple(unread))
