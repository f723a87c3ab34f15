"""Names that look like backups, for the file-sharing checks (SMB shares, NFS exports, FTP folders).

A share readable without a password is serious; one holding system images or backup sets is a
complete copy of a practice's computers (every record, often every password hash), so the
file-sharing checks raise it to critical and name what they saw. Names only: nothing is opened.
Patterns: a name "Backup"/"Backups" (any case, also as a word: "PC-Backups"), Windows' system
image folder "WindowsImageBackup", and the image and backup-set file types *.vhd/*.vhdx (Hyper-V,
Windows Backup), *.vbk/*.vib/*.vbm (Veeam), *.tib/*.tibx (Acronis).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BACKUP = re.compile(r"(?i)(^|[^a-z])backups?([^a-z]|$)|^windowsimagebackup$|\.(vhdx?|vbk|vib|vbm|tibx?)$")
MAX_NAMED = 10


def looks_like_backup(name: str) -> bool:
    return bool(_BACKUP.search(name.strip().rstrip("/\\")))


def backup_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names among ``names`` that look like backups (at most MAX_NAMED, in order)."""
    found = [n for n in (str(x).strip() for x in names) if n and looks_like_backup(n)]
    return tuple(dict.fromkeys(found))[:MAX_NAMED]
