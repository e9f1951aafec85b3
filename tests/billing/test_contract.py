"""The OpenAPI contract of the billing, ads and analytics routes (issue #18): every rule the schema now
states is enforced (400 in the envelope, nothing changed), and every operation is described with
examples and its statuses."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from packfinderz.ads.router import router as ads_router
from packfinderz.ads.router import vendor_router as vendor_ads_router
from packfinderz.ads.schemas import URL_PATTERN
from packfinderz.analytics.router import router as analytics_router
from packfinderz.billing.router import (
    admin_router,
    methods_router,
    plans_router,
    sandbox_router,
    subscriptions_router,
)
from packfinderz.kit.db import Database
from tests.billing.conftest import PLAN, action, card, error, subscribe, table_counts
from tests.fixtures.factories import Account

ROUTERS = (
    plans_router,
    admin_router,
    sandbox_router,
    subscriptions_router,
    methods_router,
    vendor_ads_router,
    ads_router,
    analytics_router,
)
ROUTES = {
    (method.lower(), route.path)
    for r in ROUTERS
    for route in r.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def example_of(document: dict[str, Any], content: dict[str, Any]) -> Any:
    """The media type's example, or the examples of its schema or of the envelope's `data`."""
    if "example" in content:
        return content["example"]
    schema = resolve(document, content["schema"])
    if schema.get("examples"):
        return schema["examples"][0]
    data = resolve(document, schema.get("properties", {}).get("data", {}))
    variants = [resolve(document, v) for v in data.get("anyOf", [data]) if v.get("type") != "null"]
    return next((v["examples"][0] for v in variants if v.get("examples")), None)


async def test_every_operation_is_described_with_examples_and_statuses(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert len(ROUTES) == 28
    for method, path in ROUTES:
        operation = document["paths"][path][method]
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        responses = operation["responses"]
        assert {"401", "403", "503"} <= set(responses), where
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in responses, where
        for code in (c for c in responses if c.startswith("2") and c != "204"):
            content = responses[code]["content"]["application/json"]
            assert example_of(document, content) is not None, (where, code)
        if "requestBody" in operation:
            body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
            assert body.get("additionalProperties") is False, where
            assert body.get("examples"), where


async def test_schema_states_the_rules(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for model, field, bounds in (
        ("AdCreate", "bid_cents", (0, 10**12)),
        ("PlanIn", "price_amount_cents", (0, 100_000_000)),
        ("ReviewIn", "rating", (1, 5)),
    ):
        prop = schemas[model]["properties"][field]
        assert (prop["type"], prop["minimum"], prop["maximum"]) == ("integer", *bounds), model
    update = schemas["AdUpdate"]["properties"]
    for name in ("status", "bid_cents", "daily_budget_cents", "creatives"):  # null is refused
        assert "anyOf" not in update[name], name
        assert update[name].get("type") != "null", name
    assert {"type": "null"} in update["ends_at"]["anyOf"]  # null clears the window end
    creative = schemas["CreativeIn"]["properties"]["destination_url"]
    assert creative["pattern"] == URL_PATTERN
    impression = schemas["ImpressionIn"]["properties"]
    assert impression["request_id"]["pattern"]
    assert impression["view_token"]["pattern"]
    detail = {p["name"]: p for p in document["paths"]["/api/v1/vendor/ads/{ad_id}"]["get"]["parameters"]}
    dashboard = {p["name"]: p for p in document["paths"]["/api/v1/vendor/analytics"]["get"]["parameters"]}
    for params in (detail, dashboard):
        for name in ("from", "to"):
            pattern = next(s["pattern"] for s in params[name]["schema"]["anyOf"] if s.get("type") == "string")
            assert pattern.startswith("^[1-9]"), name
    plan_id = document["paths"]["/api/v1/vendor/billing/plans/{plan_id}"]["get"]["parameters"][0]
    assert plan_id["schema"]["pattern"] == "^[a-z0-9_]+$"


async def test_plan_ids_and_cursors_outside_the_schema_are_400_and_change_nothing(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], plan: dict[str, Any], vendor: Account
) -> None:
    before = await table_counts(db)
    refused = await client.get("/api/v1/vendor/billing/plans/Starter-V1", headers=vendor.headers)
    assert refused.status_code == 400, refused.text
    assert error(refused)["code"] == "VALIDATION_ERROR"
    assert "plan_id" in error(refused)["details"]
    deleted = await client.delete("/api/admin/v1/billing/plans/" + "a" * 65, headers=admin)
    assert deleted.status_code == 400
    assert "plan_id" in error(deleted)["details"]
    for path, headers in (
        ("/api/v1/vendor/billing/plans", vendor.headers),
        ("/api/admin/v1/billing/plans", admin),
    ):
        response = await client.get(path, params={"cursor": "not a cursor!"}, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert "cursor" in error(response)["details"]
    assert await table_counts(db) == before
    still = await client.get(f"/api/v1/vendor/billing/plans/{plan['id']}", headers=vendor.headers)
    assert still.json()["data"]["status"] == "active"


async def test_subscription_actions_declare_and_answer_400_without_a_key(
    client: httpx.AsyncClient, db: Database, plan: dict[str, Any], vendor: Account
) -> None:
    await card(client, vendor)
    assert (await subscribe(client, vendor)).status_code == 201
    before = await table_counts(db)
    for name in ("cancel", "pause", "resume"):
        response = await client.post(f"/api/v1/vendor/subscriptions/{name}", headers=vendor.headers)
        assert response.status_code == 400, response.text
        assert error(response)["details"] == {"Idempotency-Key": "is required"}
    assert await table_counts(db) == before
    live = await client.get("/api/v1/vendor/subscriptions", headers=vendor.headers)
    assert live.json()["data"]["cancel_at_period_end"] is False
    assert (await action(client, vendor, "cancel")).status_code == 200


async def test_plan_numbers_and_booleans_are_json_types(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], plan: dict[str, Any]
) -> None:
    before = await table_counts(db)
    for field, value in (
        ("is_default", 0),
        ("test", "true"),
        ("price_amount_cents", "9900"),
        ("trial_days", 1.5),
    ):
        body = {**PLAN, "id": "growth_v1", "provider_plan_id": "plan-var-growth", field: value}
        response = await client.post("/api/admin/v1/billing/plans", json=body, headers=admin)
        assert response.status_code == 400, (field, response.text)
        assert field in error(response)["details"], field
    assert await table_counts(db) == before
    whole = {**PLAN, "id": "growth_v1", "provider_plan_id": "plan-var-growth", "is_default": False}
    created = await client.post(
        "/api/admin/v1/billing/plans", json={**whole, "price_amount_cents": 9900.0}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["price_amount_cents"] == 9900
    listed = await client.get("/api/admin/v1/billing/plans", headers=admin)
    assert listed.status_code == 200
    assert len(listed.json()["data"]["items"]) == 2
    # Every list's cursor is one non-empty base64url string (kit.pagination.CURSOR_PATTERN).
    empty_cursor = await client.get("/api/admin/v1/billing/plans", params={"cursor": ""}, headers=admin)
    assert empty_cursor.status_code == 400
