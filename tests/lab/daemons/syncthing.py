"""Real Syncthing (Debian's package) with a throwaway home: the `cloudsync.syncthing` sender.

The configuration is written before the first start (Syncthing generates its key and
certificate into the home on start); local discovery is on (IPv4 broadcast to UDP 21027 on the
lab bridge, IPv6 multicast ff12::8384), and everything that could try the internet is off:
global discovery, relays, NAT traversal, usage reporting, upgrades and crash reporting; the GUI
only on the namespace's loopback. Syncthing announces every 30 s (a constant in its source).

The lab links are IPv4 only (netns.py disables IPv6 on every eth0); this host alone gets an IPv6
link-local address back, so that Syncthing's real ff12::8384 announcements reach the bridge and
the scanner's capture (AF_PACKET sees them on gs-scan's IPv6-less eth0) can attribute them. DAD,
router solicitations and RA processing stay off: a link-local address and nothing else.
"""

from __future__ import annotations

from ..topology import LabHost
from . import Context, DaemonSpec, write


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "syncthing")
    port = next(s.port for s in host.services if s.daemon == "syncthing" and s.transport == "tcp")
    write(d / "home" / "config.xml", f"""<configuration version="36">
    <gui enabled="true" tls="false">
        <address>127.0.0.1:8384</address>
    </gui>
    <options>
        <listenAddress>tcp://{listen}:{port}</listenAddress>
        <globalAnnounceServer>default</globalAnnounceServer>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>true</localAnnounceEnabled>
        <localAnnouncePort>21027</localAnnouncePort>
        <localAnnounceMCAddr>[ff12::8384]:21027</localAnnounceMCAddr>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <startBrowser>false</startBrowser>
        <announceLANAddresses>true</announceLANAddresses>
    </options>
</configuration>
""", mode=0o600)
    ipv6 = ("sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=0", "net.ipv6.conf.eth0.router_solicitations=0",
            "net.ipv6.conf.eth0.accept_ra=0", "net.ipv6.conf.eth0.disable_ipv6=0")
    return [
        DaemonSpec(
            host=host.name,
            kinds=("syncthing",),
            namespace=host.namespace,
            setup=((ipv6, ""),),
            argv=("env", f"HOME={d / 'home'}", "STNOUPGRADE=1", "STNORESTART=1", "/usr/bin/syncthing", "serve",
                  f"--home={d / 'home'}", "--no-browser", "--no-restart", "--no-upgrade", "--no-default-folder",
                  "--skip-port-probing", "--logflags=0"),
            console=d / "console.log",
        )
    ]
