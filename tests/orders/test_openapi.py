"""/openapi.json describes every order, delivery and payout route well enough to generate a client."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from packfinderz.delivery.router import admin_router, router
from packfinderz.ledger.router import router as payouts_router
from packfinderz.orders.router import router as orders_router

ROUTES = {
    (method.lower(), route.path)
    for r in (orders_router, router, admin_router, payouts_router)
    for route in r.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}
# commerce.md §0 / identity.md §4: the 7-day keyed routes of this issue, and the 24-hour one.
CRITICAL = {
    "/api/v1/orders/{order_id}/cancel",
    "/api/v1/orders/{order_id}/retry",
    "/api/v1/orders/{order_id}/nudge",
    "/api/v1/vendor/orders/{order_id}/decision",
    "/api/v1/vendor/orders/{order_id}/line-items/decision",
    "/api/v1/agent/orders/{order_id}/claim",
    "/api/v1/agent/orders/{order_id}/pickup",
    "/api/v1/agent/orders/{order_id}/deliver",
    "/api/v1/agent/orders/{order_id}/cash-collected",
    "/api/admin/v1/orders/{order_id}/assign-agent",
    "/api/admin/v1/orders/{order_id}/confirm-payout",
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


async def test_every_route_is_described(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert len(ROUTES) == 26
    for method, path in ROUTES:
        operation = document["paths"][path][method]
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("security") == [{"bearerAuth": []}], where
        responses = operation["responses"]
        assert {"401", "403", "503"} <= set(responses), where
        for code in (c for c in responses if c.startswith(("4", "5"))):
            assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
        [success] = [c for c in responses if c.startswith("2")]
        schema = resolve(document, responses[success]["content"]["application/json"]["schema"])
        assert "data" in schema["properties"], where
        if "requestBody" in operation:
            assert "400" in responses, where
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            body = resolve(document, body.get("anyOf", [body])[0])
            assert body.get("additionalProperties") is False, where
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        keyed = [h for h in headers if h["name"] == "Idempotency-Key"]
        if path in CRITICAL:
            assert keyed, where
            assert "7 days" in keyed[0]["description"], where
        elif path == "/api/v1/vendor/orders/{order_id}/manifest":
            assert "24 hours" in keyed[0]["description"]
        else:
            assert not keyed, where
