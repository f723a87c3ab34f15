"""Which signing keys ``verify`` trusts: only the MSP's own, known from outside the database.

Trust roots are public keys read from outside the store (the key file ``gapscan keys init`` made
on this machine, ``--trust FILE`` or ``--trust <64 hex>``) and pinned fingerprints (the
``trusted_keys`` of history.yaml, ``--trust <32 hex>``). A public key the database holds is used
only when its fingerprint, recomputed from its bytes, is pinned: an insider who adds a key of
their own to the store and re-signs the chain gains nothing.

Rotations extend trust along their direction only: from a trusted key forward to the keys it
handed over to (each rotation is signed by both keys), and from a trusted key back to the keys it
took over from. A key handed over twice (a fork nobody but a thief of the old key would make) is
a problem of its own, and its successors are not followed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.history.signing import key_fingerprint, rotation_message, signature_ok


@dataclass(frozen=True)
class TrustRoots:
    """What the verifier brings from outside the database."""

    keys: Mapping[str, str] = field(default_factory=dict)  # fingerprint -> raw public key (hex)
    pinned: frozenset[str] = frozenset()  # fingerprints whose public key may come from the store
    sources: tuple[str, ...] = ()  # where each root came from, for messages

    @property
    def empty(self) -> bool:
        return not self.keys and not self.pinned

    def describe(self) -> str:
        if self.empty:
            return ("no trusted key is configured here (gapscan keys init on this machine, trusted_keys in "
                    "history.yaml, or --trust)")
        names = sorted(set(self.keys) | self.pinned)
        return "trusted: " + ", ".join(names)


def merge(roots: Iterable[TrustRoots]) -> TrustRoots:
    keys: dict[str, str] = {}
    pinned: set[str] = set()
    sources: list[str] = []
    for root in roots:
        keys.update(root.keys)
        pinned |= root.pinned
        sources += root.sources
    return TrustRoots(keys=keys, pinned=frozenset(pinned), sources=tuple(sources))


@dataclass(frozen=True)
class Rotation:
    """One stored key rotation record."""

    old_public: str
    new_public: str
    rotated_at: str
    old_signature: str
    new_signature: str

    @property
    def old(self) -> str:
        return _fingerprint(self.old_public)

    @property
    def new(self) -> str:
        return _fingerprint(self.new_public)

    def valid(self) -> bool:
        message = rotation_message(self.old_public, self.new_public, self.rotated_at)
        return (signature_ok(self.old_public, self.old_signature, message)
                and signature_ok(self.new_public, self.new_signature, message))


@dataclass(frozen=True)
class Trust:
    """The keys a verification may accept, and what the rotations say about their order."""

    keys: Mapping[str, str]  # fingerprint -> raw public key (hex)
    successors: Mapping[str, str]  # fingerprint -> the key it was handed over to
    problems: tuple[str, ...] = ()

    def retired_by(self, old: str, later: str) -> bool:
        """True when ``later`` took over (directly or through other rotations) from ``old``."""
        seen: set[str] = set()
        current = old
        while current in self.successors and current not in seen:
            seen.add(current)
            current = self.successors[current]
            if current == later:
                return True
        return False


def _fingerprint(public_hex: str) -> str:
    try:
        return key_fingerprint(bytes.fromhex(public_hex))
    except ValueError:
        return "?"


def resolve(roots: TrustRoots, stored_keys: Mapping[str, str], rotations: Sequence[Rotation]) -> Trust:
    """Trusted keys for one store: the roots, pinned store keys, and rotations from them."""
    keys = dict(roots.keys)
    for stored_fp, public in stored_keys.items():
        actual = _fingerprint(public)
        if actual in roots.pinned and actual == stored_fp:
            keys[actual] = public
    problems: list[str] = []
    valid: list[Rotation] = []
    for rotation in rotations:
        if rotation.valid():
            valid.append(rotation)
        else:
            problems.append(f"key rotation {rotation.old} -> {rotation.new} of {rotation.rotated_at}: its "
                            "signatures do not verify (not made by the key holder)")
    forward: dict[str, list[Rotation]] = {}
    backward: dict[str, list[Rotation]] = {}
    for rotation in valid:
        forward.setdefault(rotation.old, []).append(rotation)
        backward.setdefault(rotation.new, []).append(rotation)
    successors: dict[str, str] = {}
    for old, handed in forward.items():
        if len({r.new for r in handed}) > 1:
            targets = ", ".join(sorted(r.new for r in handed))
            problems.append(f"key {old} was handed over to more than one key ({targets}): a rotation not made by "
                            "the MSP; none of them is followed")
        else:
            successors[old] = handed[0].new
    publics = {r.old: r.old_public for r in valid} | {r.new: r.new_public for r in valid}
    # Forward from every trusted key through single successors; backward through predecessors.
    for start in list(keys):
        current = start
        while current in successors and successors[current] not in keys:
            current = successors[current]
            keys[current] = publics[current]
        pending = [start]
        while pending:
            for rotation in backward.get(pending.pop(), []):
                if rotation.old not in keys:
                    keys[rotation.old] = rotation.old_public
                    pending.append(rotation.old)
    return Trust(keys=keys, successors=successors, problems=tuple(problems))
