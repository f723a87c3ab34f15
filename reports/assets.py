"""Which device (or domain) a finding sits on, in the practice's words: the client file's asset
inventory joined with what discovery learned about each address (names it answered to).

A place the inventory does not describe is an *unknown asset*: the report names it by what the
scan learned (a host name) or its address, rates it with "holds ePHI: unknown", and lists it for
the technician to classify in the client file.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.client_file import Asset, ClientFile
from scanner.models import Host, ScanRun, Target


@dataclass(frozen=True)
class AssetView:
    """One device or domain as the report shows it."""

    key: str  # the address, or the domain
    kind: str  # "device" or "domain"
    asset: Asset | None  # the inventory line, None when unknown
    learned: tuple[str, ...] = ()  # names given in the scope, then those discovery learned (reverse DNS)
    mac_vendor: str | None = None  # the vendor of the MAC address ARP answered from, when known

    @property
    def known(self) -> bool:
        return self.asset is not None

    @property
    def label(self) -> str:
        """"Front desk PC (198.18.0.40)"; an unknown device by a learned name, else its address."""
        if self.asset is not None:
            return f"{self.asset.name} ({self.key})"
        if self.learned:
            return f"{self.learned[0]} ({self.key})"
        return self.key

    @property
    def ephi(self) -> str:
        if self.asset is None or self.asset.ephi == "unknown":
            return "unknown"
        return "yes" if self.asset.ephi else "no"

    @property
    def portable(self) -> bool:
        return bool(self.asset and self.asset.portable)

    @property
    def internet_facing(self) -> bool:
        # Public DNS records are the Internet's by nature; a device only when the inventory says so.
        return self.kind == "domain" or bool(self.asset and self.asset.internet_facing)

    @property
    def criticality(self) -> str:
        return self.asset.criticality if self.asset else "normal"


class AssetBook:
    """Looks up the AssetView of every place of a run."""

    def __init__(self, run: ScanRun, client: ClientFile | None = None) -> None:
        self._client = client
        self._hosts: dict[str, Host] = {h.address: h for h in run.hosts}
        self._views: dict[str, AssetView] = {}
        self._domains = sorted({r.target.domain.lower().rstrip(".") for r in run.results if r.target.domain})

    def host_names(self, address: str) -> tuple[str, ...]:
        """The names given in the scope, then those discovery learned (reverse DNS, ...)."""
        host = self._hosts.get(address)
        if host is None:
            return ()
        return tuple(dict.fromkeys((*host.hostnames, *(n.name for n in host.learned_names))))

    def for_address(self, address: str) -> AssetView:
        view = self._views.get(address)
        if view is None:
            names = self.host_names(address)
            asset = self._client.asset_for(address, names) if self._client else None
            host = self._hosts.get(address)
            view = self._views[address] = AssetView(address, "device", asset, names,
                                                    host.mac_vendor if host is not None else None)
        return view

    def for_domain(self, domain: str) -> AssetView:
        key = domain.lower().rstrip(".")
        view = self._views.get("domain:" + key)
        if view is None:
            asset = self._client.asset_for(None, (key,)) if self._client else None
            view = self._views["domain:" + key] = AssetView(key, "domain", asset)
        return view

    def for_target(self, target: Target) -> AssetView | None:
        if target.host:
            return self.for_address(target.host)
        if target.domain:
            return self.for_domain(target.domain)
        return None  # a network-wide result (a passive listen with no host)

    def devices(self) -> list[AssetView]:
        """Every device the scan saw, in address order."""
        return [v for v, _ in self.device_rows()]

    def inventory_names(self) -> dict[str, tuple[str, str | None]]:
        """(name, role) per address or domain of the run the inventory describes: for the pictures."""
        views = [*self.devices(), *(self.for_domain(d) for d in self._domains)]
        return {v.key: (v.asset.name, v.asset.role or None) for v in views if v.asset is not None}

    def device_rows(self) -> list[tuple[AssetView, Host]]:
        """Every device the scan saw, with its host record (services), in address order."""
        return [(self.for_address(a), h) for a, h in self._hosts.items()]

    def other_assets(self) -> list[tuple[Asset, list[str]]]:
        """Inventory lines that describe no scanned device, with the run's domains they describe
        (a ``*-clinic.test`` line) or none (a device this scan did not see)."""
        if self._client is None:
            return []
        used = {id(v.asset) for v, _ in self.device_rows() if v.asset is not None}
        domains: dict[int, list[str]] = {}
        for d in self._domains:
            view = self.for_domain(d)
            if view.asset is not None:
                domains.setdefault(id(view.asset), []).append(d)
        return [(a, domains.get(id(a), [])) for a in self._client.assets if id(a) not in used]

    def unknown_devices(self) -> list[AssetView]:
        return [v for v in self.devices() if not v.known]

    def place_label(self, target: Target) -> str:
        """A finding's place in words: "Front desk PC (198.18.0.40):5900/tcp vnc", "weak-clinic.test"."""
        view = self.for_target(target)
        if view is None:
            return target.label()
        if target.port is not None and view.kind == "device":
            service = f" {target.service}" if target.service else ""
            return f"{view.label} port {target.port}{service}"
        return view.label
