"""endpoint.ssh_host_key_changed — the SSH host key differs from the one on record.

Either the machine was reinstalled or something sits between the scanner and the endpoint; the
collector refused to log on either way (no secret was sent). Person or entity authentication
(164.312(d)) applies to machines too: a technician must know which machine answered.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Evidence, Severity, SkipReason, Target

from .base import Item
from .hostkeys import KeyStatus
from .probe import EndpointCollector, EndpointFacts


class SshHostKeyChanged(SingleProbeCheck[EndpointFacts]):
    meta = CheckMeta(
        id="endpoint.ssh_host_key_changed",
        title="SSH host key changed since it was recorded",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "The machine answering at this address no longer proves it is the one recorded earlier. Either it was "
            "reinstalled or something is intercepting the connection; the scanner refused to log on."
        ),
        remediation=(
            "Find out why the key changed (reinstall, new hardware, or interception). Only when the new key is "
            "confirmed on the machine's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), remove the "
            "old line from gapscan's known_hosts (ssh-keygen -R HOST -f ~/.local/share/gapscan/known_hosts)."
        ),
        description="Compares the SSH host key with gapscan's known_hosts (trust on first use) before logging on.",
    )
    probe = EndpointCollector

    def judge(self, target: Target, ep: EndpointFacts) -> Iterator[Item]:
        if ep.no_credentials:
            yield self.skip(target, SkipReason.NO_CREDENTIALS, ep.no_credentials)
            return
        check = ep.host_key
        if check is None:
            yield self.skip(target, SkipReason.NOT_APPLICABLE, f"{ep.host}: not collected over SSH")
            return
        ev = Evidence(kind="ssh-host-key", summary=f"{check.key_type} {check.fingerprint}: {check.status.value}",
                      data={"host": check.host_id, "key_type": check.key_type, "fingerprint": check.fingerprint,
                            "status": check.status.value, "recorded_fingerprint": check.recorded_fingerprint,
                            "store": check.store},
                      method="SSH key exchange, compared with known_hosts before authentication")
        if check.status is KeyStatus.CHANGED:
            yield self.finding(target, passed=False, evidence=[ev],
                               detail=f"{check.host_id}: host key is now {check.key_type} {check.fingerprint}, "
                                      f"on record {check.recorded_fingerprint}; gapscan refused to log on")
        elif check.status is KeyStatus.UNKNOWN_REFUSED:
            yield self.undetermined(target, ErrorReason.HOST_KEY_REFUSED, ep.refused or "host key not known",
                                    evidence=[ev])
        else:
            words = ("matches the key on record" if check.status is KeyStatus.KNOWN
                     else "seen for the first time and recorded (trust on first use)")
            yield self.finding(target, passed=True, evidence=[ev],
                               detail=f"{check.host_id}: {check.key_type} {check.fingerprint} {words}")
