"""OS product, version and build from ``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``.

Windows 11 still writes ProductName "Windows 10 ..." there: the build number decides (22000 and
later is Windows 11; https://learn.microsoft.com/en-us/windows/release-health/windows11-release-information).
Servers are told apart by InstallationType ("Server", "Server Core") or a ProductName naming a
server, and their release by the build (https://learn.microsoft.com/en-us/windows/release-health/windows-server-release-info).
"""

from __future__ import annotations

from ..inventory import OsFamily, OsInfo, Unknown
from .records import RegistrySnapshot, as_int

CURRENT_VERSION = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
VALUES = ("ProductName", "EditionID", "InstallationType", "CurrentBuildNumber", "UBR", "DisplayVersion",
          "ReleaseId", "CurrentVersion")

SERVER_BUILDS = {9200: ("windows-server-2012", "2012"), 9600: ("windows-server-2012-r2", "2012 R2"),
                 14393: ("windows-server-2016", "2016"), 17763: ("windows-server-2019", "2019"),
                 20348: ("windows-server-2022", "2022"), 26100: ("windows-server-2025", "2025")}


def _text(reg: RegistrySnapshot, name: str) -> str | None:
    value = reg.value(CURRENT_VERSION, name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def from_registry(reg: RegistrySnapshot) -> OsInfo:
    """``OsInfo`` for a Windows endpoint; ``Unknown`` when the values do not name a known release."""
    observations = tuple(reg.observe(CURRENT_VERSION, name) for name in VALUES)
    if reg.error(CURRENT_VERSION):
        raise Unknown(f"{CURRENT_VERSION} could not be read: {reg.error(CURRENT_VERSION)}")
    product = _text(reg, "ProductName")
    build = as_int(_text(reg, "CurrentBuildNumber"))
    if product is None or build is None:
        raise Unknown("ProductName or a numeric CurrentBuildNumber is missing")
    install = (_text(reg, "InstallationType") or "").lower()
    is_server = install.startswith("server") or (not install and "server" in product.lower())
    ubr = as_int(reg.value(CURRENT_VERSION, "UBR"))
    build_text = f"{build}.{ubr}" if ubr is not None else str(build)
    edition = _text(reg, "EditionID")
    if is_server:
        if build not in SERVER_BUILDS:
            raise Unknown(f"server build {build} is not a known Windows Server release")
        server_id, year = SERVER_BUILDS[build]
        return OsInfo(family=OsFamily.WINDOWS, name=product, product_id=server_id, version=year,
                      build=build_text, edition=edition, observations=observations)
    if install not in ("", "client"):
        raise Unknown(f"InstallationType {_text(reg, 'InstallationType')!r} is neither a client nor a server")
    product_id, name = _client(product, build)
    version = _text(reg, "DisplayVersion") or _text(reg, "ReleaseId") or _text(reg, "CurrentVersion")
    if version is None:
        raise Unknown("no DisplayVersion, ReleaseId or CurrentVersion")
    return OsInfo(family=OsFamily.WINDOWS, name=f"{name} {version}" if product_id in ("windows-10", "windows-11")
                  else name, product_id=product_id, version=version, build=build_text, edition=edition,
                  observations=observations)


def _client(product: str, build: int) -> tuple[str, str]:
    if build >= 22000:
        return "windows-11", product.replace("Windows 10", "Windows 11", 1)
    if build >= 10240:
        return "windows-10", product
    if build == 9600:
        return "windows-8.1", product
    if build in (7600, 7601):
        return "windows-7", product
    raise Unknown(f"client build {build} is not a known Windows release")
