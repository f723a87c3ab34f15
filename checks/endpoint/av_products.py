"""Anti-malware / EDR products recognised by the name of a running process.

Shared by the macOS and Linux parsers (``ps`` listings over SSH) and the Windows collector
(process list), so one table says which process means which product. A match says a product's
daemon was *running* when the list was taken; it says nothing about signature freshness, which
is why the parsers report ``up_to_date=None`` for these.

Only names we are confident a vendor's agent really runs under are listed; the comment on each
says where the name is documented (vendor pages on exclusions/allow-listing of the agent's
processes, or the package's own service definition). The table was compiled on 2026-11-23 from
that knowledge; the pages were not each re-fetched then, so a vendor renaming its agent shows up
as "not recognised", never as a wrong product. A product missing here is simply "not
recognised" — the checks never turn "not recognised" into "no anti-malware" without saying so.
"""

from __future__ import annotations

from .inventory import OsFamily

# (product, family, process name). Names are compared case-insensitively; a trailing ".exe" on
# the observed name is ignored on Windows.
_TABLE: tuple[tuple[str, OsFamily, str], ...] = (
    # Microsoft Defender: MsMpEng.exe is the Defender Antivirus engine service and MsSense.exe the
    # Defender for Endpoint sensor (Microsoft Learn, "Configure exclusions ... for Microsoft
    # Defender"); wdavdaemon is the daemon of Defender for Endpoint on macOS and Linux (Microsoft
    # Learn, "Troubleshoot performance issues for Microsoft Defender for Endpoint on macOS/Linux").
    ("Microsoft Defender", OsFamily.WINDOWS, "MsMpEng"),
    ("Microsoft Defender for Endpoint", OsFamily.WINDOWS, "MsSense"),
    ("Microsoft Defender for Endpoint", OsFamily.MACOS, "wdavdaemon"),
    ("Microsoft Defender for Endpoint", OsFamily.LINUX, "wdavdaemon"),
    # CrowdStrike Falcon: CSFalconService.exe (Windows service), falcon-sensor (Linux package's
    # service), falcond (older macOS sensor) and com.crowdstrike.falcon.Agent (the macOS system
    # extension since Big Sur) — CrowdStrike's published sensor deployment guides.
    ("CrowdStrike Falcon", OsFamily.WINDOWS, "CSFalconService"),
    ("CrowdStrike Falcon", OsFamily.LINUX, "falcon-sensor"),
    ("CrowdStrike Falcon", OsFamily.MACOS, "falcond"),
    ("CrowdStrike Falcon", OsFamily.MACOS, "com.crowdstrike.falcon.Agent"),
    # SentinelOne: SentinelAgent(.exe) on Windows and macOS, s1-agent on Linux.
    ("SentinelOne", OsFamily.WINDOWS, "SentinelAgent"),
    ("SentinelOne", OsFamily.MACOS, "SentinelAgent"),
    ("SentinelOne", OsFamily.LINUX, "s1-agent"),
    # Sophos: SavService.exe (Sophos Anti-Virus service on Windows), savd (Sophos Anti-Virus for
    # Linux daemon), SophosScanD (Sophos scanning daemon on macOS).
    ("Sophos", OsFamily.WINDOWS, "SavService"),
    ("Sophos", OsFamily.LINUX, "savd"),
    ("Sophos", OsFamily.MACOS, "SophosScanD"),
    # Malwarebytes service on Windows.
    ("Malwarebytes", OsFamily.WINDOWS, "MBAMService"),
    # ESET kernel service on Windows (ekrn.exe, ESET's own "ESET Service" documentation).
    ("ESET", OsFamily.WINDOWS, "ekrn"),
    # Jamf Protect's agent binary on macOS.
    ("Jamf Protect", OsFamily.MACOS, "JamfProtect"),
    # ClamAV's scanning daemon (clamd(8)); freshclam is only the updater and is not protection.
    ("ClamAV", OsFamily.LINUX, "clamd"),
    ("ClamAV", OsFamily.MACOS, "clamd"),
    # Other Windows products whose service process names are widely documented by the vendors.
    ("Kaspersky", OsFamily.WINDOWS, "avp"),
    ("Webroot SecureAnywhere", OsFamily.WINDOWS, "WRSA"),
    ("Avast", OsFamily.WINDOWS, "AvastSvc"),
    ("Symantec Endpoint Protection", OsFamily.WINDOWS, "ccSvcHst"),
)

# macOS ``ps -c`` prints the kernel's p_comm, which XNU truncates to MAXCOMLEN (16) characters:
# "com.crowdstrike.falcon.Agent" appears as "com.crowdstrike.". A name this long is matched as a
# prefix of a catalogue name.
MACOS_COMM_LIMIT = 16


def normalise_process(name: str, family: OsFamily) -> str:
    """Lower-case process name; on Windows without a trailing ``.exe``; never a path."""
    base = name.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
    if family is OsFamily.WINDOWS and base.endswith(".exe"):
        base = base[:-4]
    return base


def process_matches(observed: str, listed: str, family: OsFamily) -> bool:
    """Whether an observed process name is the listed one (tolerating macOS comm truncation)."""
    seen = normalise_process(observed, family)
    want = normalise_process(listed, family)
    if seen == want:
        return True
    return family is OsFamily.MACOS and len(seen) >= MACOS_COMM_LIMIT - 1 and want.startswith(seen)


def match_av_process(name: str, family: OsFamily) -> str | None:
    """The product whose agent runs as process ``name`` on ``family``, or ``None``."""
    for product, fam, listed in _TABLE:
        if fam is family and process_matches(name, listed, family):
            return product
    return None
