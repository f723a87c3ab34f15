"""``Accounts`` from the SAM policy read over MS-SAMR (``samr.py``): pure."""

from __future__ import annotations

import json
from datetime import datetime

from ..inventory import Accounts, Observation
from .samr import SamrPolicy

SOURCE = "MS-SAMR: SamrQueryInformationDomain2 (password, lockout), Guest RID 501, Builtin alias 544"


def from_samr(policy: SamrPolicy, collected_at: datetime | None = None) -> Accounts:
    obs = Observation(source=f"samr: domain {policy.domain}", output=json.dumps(policy.as_data(), sort_keys=True))
    if collected_at is not None:
        obs = Observation(source=obs.source, output=obs.output, collected_at=collected_at)
    return Accounts(observations=(obs,), source=f"{SOURCE} (domain {policy.domain})",
                    min_length=policy.min_password_length, min_length_where="SAM MinPasswordLength",
                    lockout_threshold=policy.lockout_threshold, lockout_where="SAM LockoutThreshold",
                    max_age_days=policy.max_password_age_days,
                    guest_enabled=None if policy.guest_disabled is None else not policy.guest_disabled,
                    administrators=policy.administrators, unread=tuple(policy.errors.items()))
