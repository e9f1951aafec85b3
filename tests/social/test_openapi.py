"""/openapi.json (and so /docs) describes every wishlist, review, address and CRM route with examples."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from packfinderz.customers.router import router as customers_router
from packfinderz.maps.router import router as address_router
from packfinderz.reviews.router import router as reviews_router
from packfinderz.reviews.router import store_reviews_router
from packfinderz.wishlist.router import router as wishlist_router

ROUTES = {
    (method.lower(), route.path)
    for r in (wishlist_router, reviews_router, store_reviews_router, address_router, customers_router)
    for route in r.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}
PUBLIC = {("get", "/api/v1/address/suggest"), ("post", "/api/v1/address/resolve")}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def has_example(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> bool:
    """An example on the schema, its `data` payload, its `items` or the list's element."""
    schema = resolve(document, schema)
    if schema.get("examples") or schema.get("example") or depth > 4:
        return bool(schema.get("examples") or schema.get("example"))
    children = [*schema.get("anyOf", [])]
    properties = schema.get("properties", {})
    for name in ("data", "items"):
        if name in properties:
            children.append(properties[name])
    if "items" in schema and isinstance(schema["items"], dict):
        children.append(schema["items"])
    return any(has_example(document, child, depth + 1) for child in children)


async def test_every_new_route_is_described_with_examples(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert len(ROUTES) == 12
    for method, path in ROUTES:
        operation = document["paths"][path][method]
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        responses = operation["responses"]
        assert {"400", "503"} <= set(responses), where
        if (method, path) in PUBLIC:
            assert "security" not in operation, where
        else:
            assert operation.get("security") == [{"bearerAuth": []}], where
            assert {"401", "403"} <= set(responses), where
        for code in (c for c in responses if c.startswith(("4", "5"))):
            assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
        for code in (c for c in responses if c.startswith("2") and c != "204"):
            content = responses[code]["content"]["application/json"]
            assert "data" in resolve(document, content["schema"])["properties"], where
            assert content.get("example") or has_example(document, content["schema"]), (where, code)
        if "requestBody" in operation:
            body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
            assert body.get("additionalProperties") is False, where
            assert body.get("examples"), where
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        assert not [h for h in headers if h["name"] == "Idempotency-Key"], where  # naturally idempotent


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.text
