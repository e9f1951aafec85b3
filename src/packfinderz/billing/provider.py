"""The billing provider protocol (money-ads-analytics.md §1.1), its errors, key derivation and factory.

Provider objects are returned in Square's JSON shape (a subscription is a dict with `status`,
`charged_through_date`, `actions`, ...), so one mapping serves the sandbox and Square alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import Counter

from packfinderz.kit.errors import Conflict, DependencyError, NotFound, StateConflict

if TYPE_CHECKING:
    import httpx

    from packfinderz.config import Settings
    from packfinderz.kit.db import Database

PROVIDER_CALLS = Counter(
    "billing_provider_calls_total",
    "Billing provider calls by operation and result.",
    ["operation", "result"],
)


class ProviderDeclined(StateConflict):
    """The provider refused the request (declined card, bad nonce, bad state): 422 with provider_code."""

    def __init__(self, message: str, provider_code: str) -> None:
        super().__init__(message, {"provider_code": provider_code})
        self.provider_code = provider_code


class ProviderNotFound(NotFound):
    """The provider does not know the object."""


class ProviderConflict(Conflict):
    """The provider answered 409."""


def provider_unavailable(reason: str) -> DependencyError:
    """Our credentials, rate limits, 5xx, network or timeout: 503 {dependency: billing}."""
    return DependencyError("billing", {"reason": reason})


def provider_key(operation: str, source: str) -> str:
    """The provider idempotency key `<op>-<32 hex>` (≤ 45 chars) derived from the caller's key."""
    digest = hashlib.sha256(f"{operation}:{source}".encode()).hexdigest()[:32]
    key = f"{operation}-{digest}"
    if len(key) > 45:
        raise ValueError(f"operation name too long for a provider key: {operation}")
    return key


@dataclass(frozen=True)
class ProviderCustomer:
    """A provider customer; `created` is false when an existing one was found."""

    id: str
    created: bool


@dataclass(frozen=True)
class ProviderCard:
    """A card on file at the provider (never the PAN: brand, last 4, expiry, fingerprint)."""

    id: str
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    fingerprint: str | None
    cardholder_name: str | None = None
    billing_address: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProviderPayment:
    """A payment attempt: `status` COMPLETED or FAILED (a decline raises ProviderDeclined instead)."""

    id: str
    status: str
    amount_cents: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerDetails:
    """What the provider needs to create a customer (never logged)."""

    reference_id: str
    email: str | None
    company: str | None
    given_name: str | None = None
    family_name: str | None = None
    address: dict[str, Any] | None = None
    phone: str | None = None


class BillingProvider(Protocol):
    """One billing provider: `sandbox` (offline) or `square`."""

    name: str

    async def probe(self) -> None:
        """Startup check (no network call)."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client (if any)."""
        ...

    async def ensure_customer(self, details: CustomerDetails, idempotency_key: str) -> ProviderCustomer:
        """Find the customer by reference id, then email; else create it."""
        ...

    async def create_card(
        self,
        customer_id: str,
        source_id: str,
        idempotency_key: str,
        *,
        cardholder_name: str | None = None,
        verification_token: str | None = None,
        billing_address: dict[str, Any] | None = None,
    ) -> ProviderCard:
        """Store a card from a Web Payments SDK token."""
        ...

    async def disable_card(self, card_id: str) -> None:
        """Disable a card; an unknown card is fine."""
        ...

    async def create_subscription(
        self, customer_id: str, card_id: str, plan_variation_id: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Create a subscription; returns the subscription JSON."""
        ...

    async def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription JSON with its pending `actions`."""
        ...

    async def cancel(self, subscription_id: str) -> dict[str, Any]:
        """Cancel at the end of the paid period (a pending CANCEL action)."""
        ...

    async def pause(self, subscription_id: str, effective_date: date) -> dict[str, Any]:
        """Pause from effective_date (a pending PAUSE action)."""
        ...

    async def resume(self, subscription_id: str) -> dict[str, Any]:
        """Resume a paused subscription now."""
        ...

    async def delete_action(self, subscription_id: str, action_id: str) -> dict[str, Any]:
        """Remove a pending action (un-cancel, un-pause)."""
        ...

    async def create_payment(
        self, amount_cents: int, customer_id: str, card_id: str, reference_id: str, idempotency_key: str
    ) -> ProviderPayment:
        """Charge a card on file once (autocomplete); a decline raises ProviderDeclined."""
        ...


def provider_for(
    settings: Settings, database: Database, *, http_client: httpx.AsyncClient | None = None
) -> BillingProvider:
    """The configured provider: `square` on the official SDK, or the sandbox on its own table."""
    if settings.effective_billing_provider == "square":
        from packfinderz.billing.square import SquareProvider

        return SquareProvider(settings, http_client=http_client)
    if settings.is_prod:
        raise RuntimeError("the sandbox billing provider is refused in prod")
    from packfinderz.billing.sandbox import SandboxProvider

    return SandboxProvider(database)
