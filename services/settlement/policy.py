"""Which `SettlementPolicy` a set of dependencies runs with.

The composition root registers the policy built from settings for its `Deps`
(`use_policy`); anything else (a test's own Deps, a script) gets the defaults, which
match settings.py's. Kept beside Deps rather than in it while Deps is being reshaped;
one line moves it onto Deps later.
"""

from __future__ import annotations

import weakref

from domain.settlement import SettlementPolicy
from services.deps import Deps

DEFAULT_POLICY = SettlementPolicy()
_policies: dict[int, SettlementPolicy] = {}


def use_policy(deps: Deps, policy: SettlementPolicy) -> None:
    key = id(deps)
    if key not in _policies:
        weakref.finalize(deps, _policies.pop, key, None)
    _policies[key] = policy


def policy_of(deps: Deps) -> SettlementPolicy:
    return _policies.get(id(deps), DEFAULT_POLICY)
