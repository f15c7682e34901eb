"""The simulated world: its clock, its tenants (workspaces) and the ground truth of their accounts.

A world is a pure function of (seed, as_of, scale). Advancing the clock regenerates the history to
the new date off to the side and swaps it in atomically, so a server keeps answering (from the old
state) while the world moves, and an advanced world equals one built at the later date.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from simulator.business.clock import day_end, to_datetime
from simulator.business.seeding import base62, stable_hash
from simulator.business.simulation import simulate
from simulator.business.tenants import TENANTS, Tenant
from simulator.faults import Faults
from simulator.stripe.account import RESOURCES, StripeAccount


@dataclass(frozen=True)
class SimWorkspace:
    id: str
    name: str
    stripe_api_key: str
    settlement_currency: str
    currencies: tuple[str, ...]
    """Currencies it sells in, main one first."""
    country: str


@dataclass(frozen=True)
class GroundTruth:
    """What a perfect pipeline would have loaded for one workspace at the world's clock.

    `objects` are exactly what the API serves (newest first), unaffected by faults; `malformed_ids`
    are the objects the world's current faults serve corrupted, which a pipeline should reject.
    """

    workspace_id: str
    now: datetime
    balance: dict[str, dict[str, int]]
    objects: dict[str, list[dict[str, Any]]]
    malformed_ids: dict[str, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _State:
    as_of: date
    now: int
    accounts: dict[str, StripeAccount]


class World:
    """The two tenants' businesses as seen at the end of `as_of`; a pure function of (seed, as_of, scale)."""

    def __init__(self, seed: int, as_of: date, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.seed = seed
        self.scale = scale
        self.workspaces = [self._workspace(tenant) for tenant in TENANTS]
        self._tenants = {tenant.id: tenant for tenant in TENANTS}
        self._by_key = {workspace.stripe_api_key: workspace.id for workspace in self.workspaces}
        self.faults = Faults()
        """The faults of the server serving this world (it sets them); what `ground_truth` reports against."""
        self._advancing = threading.Lock()
        self._state = self._build(as_of)

    def _workspace(self, tenant: Tenant) -> SimWorkspace:
        key = "sk_test_" + base62(stable_hash(self.seed, tenant.id, "stripe-secret-key", bits=200), 32)
        return SimWorkspace(
            id=tenant.id,
            name=tenant.name,
            stripe_api_key=key,
            settlement_currency=tenant.settlement_currency,
            currencies=tuple(tenant.currency_mix),
            country=tenant.country,
        )

    def _build(self, as_of: date) -> _State:
        now = day_end(as_of)
        accounts = {
            tenant.id: StripeAccount(simulate(tenant, self.seed, self.scale, now), tenant, self.seed, now)
            for tenant in self._tenants.values()
        }
        return _State(as_of, now, accounts)

    @property
    def as_of(self) -> date:
        return self._state.as_of

    @property
    def now(self) -> datetime:
        """The clock: the last second (UTC) of the `as_of` day."""
        return to_datetime(self._state.now)

    def advance_to(self, as_of: date) -> None:
        """Move the clock forward to the end of `as_of`; safe while a server is answering requests."""
        with self._advancing:
            if as_of < self._state.as_of:
                raise ValueError(f"the clock only moves forward: {as_of} is before {self._state.as_of}")
            if as_of != self._state.as_of:
                self._state = self._build(as_of)

    def stripe_account(self, workspace_id: str) -> StripeAccount:
        return self._state.accounts[workspace_id]

    def workspace_for_stripe_key(self, api_key: str) -> str | None:
        return self._by_key.get(api_key)

    def ground_truth(self, workspace_id: str, faults: Faults | None = None) -> GroundTruth:
        """The workspace's true state at the clock; malformed ids per `faults` (default: the server's)."""
        state = self._state
        account = state.accounts[workspace_id]
        faults = self.faults if faults is None else faults
        objects = {
            resource: [account.render(item) for item in account.listings[resource].items]
            for resource in RESOURCES
        }
        return GroundTruth(
            workspace_id=workspace_id,
            now=to_datetime(state.now),
            balance={self._tenants[workspace_id].settlement_currency: account.balance()},
            # A private copy: the renders are shared with the API's cache.
            objects=json.loads(json.dumps(objects)),
            malformed_ids={
                resource: set(account.malformed_ids(faults.seed, resource, count))
                for resource, count in faults.malformed.items()
                if count > 0
            },
        )
