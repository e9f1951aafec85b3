"""Chooses the billing provider from the settings (apart from the protocol, which the providers import)."""

from __future__ import annotations

import httpx

from packfinderz.billing.provider import BillingProvider
from packfinderz.config import Settings
from packfinderz.kit.db import Database


def provider_for(
    settings: Settings, database: Database, *, http_client: httpx.AsyncClient | None = None
) -> BillingProvider:
    """The configured provider: `square` on the official SDK, or the sandbox on its own table."""
    if settings.effective_billing_provider == "square":
        # Imported here: Square's SDK is large, and only processes configured for it should load it.
        from packfinderz.billing.square import SquareProvider

        return SquareProvider(settings, http_client=http_client)
    if settings.is_prod:
        raise RuntimeError("the sandbox billing provider is refused in prod")
    from packfinderz.billing.sandbox import SandboxProvider

    return SandboxProvider(database)
