"""/openapi.json describes every identity route well enough to generate a client (issue #3 point 9)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from packfinderz.audit.router import router as audit_router
from packfinderz.auth.deps import bearer_scheme
from packfinderz.auth.router import admin_auth_router, admin_users_router, dev_admin_router
from packfinderz.auth.router import router as auth_router
from packfinderz.stores.router import router as stores_router

ROUTERS = (auth_router, admin_auth_router, dev_admin_router, admin_users_router, audit_router, stores_router)
IDENTITY_ROUTES = {
    (method.lower(), route.path)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}
PUBLIC = {
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/admin/v1/auth/login"),
    ("post", "/api/admin/v1/auth/register"),
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


async def test_every_identity_route_is_fully_described(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": bearer_scheme.model.description,
    }
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if (method, path) in IDENTITY_ROUTES
    ]
    assert len(operations) == len(IDENTITY_ROUTES) == 19
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, where
        for code in success:
            if code == "204":
                continue
            schema = resolve(document, responses[code]["content"]["application/json"]["schema"])
            assert "data" in schema["properties"], where
        assert "422" not in responses or "ErrorResponse" in str(responses["422"]), where
        for code in ("503", *(c for c in responses if c.startswith(("4", "5")))):
            assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorResponse"
            ), where
        if (method, path) not in PUBLIC:
            assert operation.get("security") == [{"bearerAuth": []}], where
            assert "401" in responses, where
        if "requestBody" in operation:
            assert "400" in responses, where
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert resolve(document, body).get("additionalProperties") is False, where
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas


async def test_idempotent_routes_document_the_header(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/auth/register", "/api/v1/stores/me/users/invite"):
        operation = document["paths"][path]["post"]
        [header] = [p for p in operation["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key"
        assert header["required"] is True
        assert {"409", "422"} <= set(operation["responses"])
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert not [p for p in login.get("parameters", []) if p["name"] == "Idempotency-Key"]
