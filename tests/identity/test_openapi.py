"""/openapi.json describes every identity route well enough to generate a client (issue #3 point 9)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute

from packfinderz.audit.router import router as audit_router
from packfinderz.auth.deps import bearer_scheme
from packfinderz.auth.router import admin_auth_router, admin_users_router, dev_admin_router
from packfinderz.auth.router import router as auth_router
from packfinderz.kit.schemas import RFC3339_PATTERN
from packfinderz.kit.storage.router import router as storage_router
from packfinderz.licenses.router import admin_router as licenses_admin_router
from packfinderz.licenses.router import router as licenses_router
from packfinderz.media.router import router as media_router
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


async def test_the_document_states_the_rules_of_identity_and_platform_routes(
    client: httpx.AsyncClient,
) -> None:
    """Issue #18: what these routes enforce is in the schema, so generated clients and fuzzers agree."""
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    paths = document["paths"]

    def param(path: str, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        assert len(found) == 1, (path, name)
        return found[0]

    # audit: date-time filters (a plain number is a 400), and the action pattern
    for name in ("from", "to"):
        assert {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN} in param(
            "/api/admin/v1/audit", name
        )["schema"]["anyOf"]
    assert param("/api/admin/v1/audit", "action")["schema"]["pattern"].startswith("^[a-z_]+")
    # media: closed sets as enums, the kind ↔ MIME rule and the size bounds
    presign = schemas["PresignIn"]
    assert "license_doc" in presign["properties"]["media_kind"]["enum"]
    [pdf_only] = [
        rule for rule in presign["allOf"] if "coa" in rule["if"]["properties"]["media_kind"]["enum"]
    ]
    assert pdf_only["then"]["properties"]["mime_type"]["enum"] == ["application/pdf"]
    assert presign["properties"]["size_bytes"]["minimum"] == 1
    assert set(schemas["MediaDTO"]["properties"]["status"]["enum"]) == {"pending", "uploaded", "failed"}
    assert "grower" in schemas["LicenseDTO"]["properties"]["type"]["enum"]
    assert "suspended" in schemas["StoreDTO"]["properties"]["kyc_status"]["enum"]
    # PATCH fields that refuse null are not offered as nullable
    assert schemas["StoreUpdateIn"]["properties"]["company_name"].get("type") == "string"
    assert "anyOf" not in schemas["StoreUpdateIn"]["properties"]["delivery_radius_meters"]
    assert "anyOf" not in schemas["AdminStorePatch"]["properties"]["suspended"]
    assert schemas["RegisterIn"]["properties"]["accept_tos"]["const"] is True
    # storage: the malformed-key 400 is declared, and the key's shape is a pattern
    for path in ("/api/storage/v1/objects/{key}", "/api/storage/v1/public/{key}"):
        assert "400" in paths[path]["get"]["responses"], path
        [key] = paths[path]["get"]["parameters"][:1]
        assert "license_doc" in key["schema"]["pattern"], path
    # every operation here says in words what JSON Schema cannot
    for router in (*ROUTERS, storage_router, media_router, licenses_router, licenses_admin_router):
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in route.methods or ():
                    path = route.path.replace(":path}", "}")
                    assert paths[path][method.lower()].get("description"), (method, path)
