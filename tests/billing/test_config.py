"""Billing configuration: prod needs Square and refuses the sandbox; what is mounted where; demo seed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from packfinderz.app import create_app
from packfinderz.billing.factory import provider_for
from packfinderz.billing.sandbox import SandboxProvider
from packfinderz.billing.seed import subscribe_demo_vendors
from packfinderz.billing.square import SquareProvider
from packfinderz.config import ConfigError, Settings, load_settings
from packfinderz.kit.db import Database
from tests.billing.conftest import flag, rows
from tests.fixtures.factories import register_vendor

SQUARE_ENV = {
    "PACKFINDERZ_SQUARE_ACCESS_TOKEN": "EAAA-prod-token",
    "PACKFINDERZ_SQUARE_LOCATION_ID": "L123",
    "PACKFINDERZ_SQUARE_WEBHOOK_SIGNATURE_KEY": "whsec-prod",
    "PACKFINDERZ_SQUARE_WEBHOOK_URL": "https://api.example.com/api/v1/webhooks/square",
}
PROD_ENV = {
    "PACKFINDERZ_APP_ENV": "prod",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/pf?sslmode=require",
    "PACKFINDERZ_REDIS_URL": "redis://127.0.0.1:1/0",
    "PACKFINDERZ_JWT_SECRET": "j" * 40,
    "PACKFINDERZ_ADS_TOKEN_SECRET": "a" * 40,
    "PACKFINDERZ_STORAGE_SIGNING_SECRET": "s" * 40,
    "PACKFINDERZ_PUBLIC_BASE_URL": "https://api.example.com",
    "PACKFINDERZ_METRICS_TOKEN": "m" * 40,
}


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings({"db", "app"}, _env_file=None)


def _paths(app: FastAPI) -> set[str]:
    return set(app.openapi()["paths"])


def test_prod_starts_with_square_variables_and_square_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, **PROD_ENV, **SQUARE_ENV, PACKFINDERZ_BILLING_PROVIDER="square")
    assert settings.effective_billing_provider == "square"
    assert load(monkeypatch, **PROD_ENV, **SQUARE_ENV).effective_billing_provider == "square"  # prod default
    paths = _paths(create_app(settings))
    assert "/api/v1/webhooks/square" in paths
    assert not any("/billing/sandbox/" in p for p in paths)
    assert isinstance(provider_for(settings, Database.__new__(Database)), SquareProvider)


def test_prod_refuses_the_sandbox_and_missing_square_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, **PROD_ENV, **SQUARE_ENV, PACKFINDERZ_BILLING_PROVIDER="sandbox")
    assert "PACKFINDERZ_BILLING_PROVIDER" in caught.value.variables
    for name in SQUARE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PACKFINDERZ_BILLING_PROVIDER", "square")
    with pytest.raises(ConfigError) as missing:
        load_settings({"db", "app"}, _env_file=None)
    assert set(SQUARE_ENV) <= set(missing.value.variables)


def test_the_factory_refuses_the_sandbox_in_prod(settings: Settings, db: Database) -> None:
    assert isinstance(provider_for(settings, db), SandboxProvider)
    prod = settings.model_copy(update={"app_env": "prod", "billing_provider": "sandbox"})
    with pytest.raises(RuntimeError):
        provider_for(prod, db)


def test_outside_prod_the_simulation_is_mounted_and_the_webhook_only_with_square(settings: Settings) -> None:
    sandbox_paths = _paths(create_app(settings))
    assert "/api/admin/v1/billing/sandbox/subscriptions/{subscription_id}/simulate" in sandbox_paths
    assert "/api/v1/webhooks/square" not in sandbox_paths
    square = settings.model_copy(
        update={
            "billing_provider": "square",
            "square_access_token": SecretStr("t"),
            "square_location_id": "L",
        }
    )
    assert "/api/v1/webhooks/square" in _paths(create_app(square))


async def test_simulation_of_an_unknown_subscription_is_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/admin/v1/billing/sandbox/subscriptions/sub-x/simulate", json={"event": "renew"}, headers=admin
    )
    assert response.status_code == 404
    bad = await client.post(
        "/api/admin/v1/billing/sandbox/subscriptions/sub-x/simulate", json={"event": "explode"}, headers=admin
    )
    assert bad.status_code == 400


async def test_demo_vendors_get_real_sandbox_subscriptions(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    vendors = [await register_vendor(client) for _ in range(2)]
    ids: list[Any] = [v.store_id for v in vendors]
    assert await subscribe_demo_vendors(db, settings, ids) == 2
    subs = await rows(db, "SELECT store_id, status, billing_plan_id FROM subscriptions ORDER BY created_at")
    assert [(s["status"], s["billing_plan_id"]) for s in subs] == [("active", "starter_v1")] * 2
    for vendor in vendors:
        assert await flag(db, vendor.store_id)
    overrides = await rows(db, "SELECT subscription_override FROM stores WHERE type = 'vendor'")
    assert {o["subscription_override"] for o in overrides} == {None}
