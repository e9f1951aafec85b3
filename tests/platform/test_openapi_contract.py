"""The contract meta-test: /openapi.json states what the server enforces, for every operation (issue #18).

One test per operation and rule, so a failure names the operation and what it lacks:
- a description (the handler's docstring: the rules JSON Schema cannot express);
- an example on the request body and on every 2xx JSON response (directly, or on the resolved schema,
  or on the envelope's `data`, or on a Page's items / a list's items);
- no `anyOf[number, string]` (a number must be a number);
- every status the route's dependencies can produce is declared (401 for a bearer token, 403 for a
  password-change or store/role guard, 400 for validated input, 413/415 for a JSON body, 409/422 for an
  `Idempotency-Key`, 429 for a rate limit, 503 always).
The kit-level declarations (headers, 413/415/429, cursors, Page) have their own tests at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.openapi import IDEMPOTENCY_KEY_SCHEMA, openapi_path
from packfinderz.kit.pagination import CURSOR_PATTERN
from packfinderz.kit.ratelimit import RATE_LIMIT_MARK

APP = create_app(Settings())  # building the document needs no database
DOCUMENT: dict[str, Any] = APP.openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
METHODS = ("get", "put", "post", "patch", "delete")
TRIPLES: list[tuple[str, str, dict[str, Any]]] = [
    (path, method, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]
OPERATIONS = [pytest.param(*triple, id=f"{triple[1].upper()} {triple[0]}") for triple in TRIPLES]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_example(schema: dict[str, Any], depth: int = 0) -> bool:
    """An example on the schema, or on what it wraps: `data`, a Page's items, a list's items."""
    if depth > 4:
        return False
    direct = schema.get("example") is not None or bool(schema.get("examples"))
    resolved = resolve(schema)
    if direct or resolved.get("example") is not None or resolved.get("examples"):
        return True
    for option in resolved.get("anyOf", []) + resolved.get("allOf", []) + resolved.get("oneOf", []):
        if option.get("type") != "null" and _has_example(option, depth + 1):
            return True
    properties = resolved.get("properties", {})
    if "data" in properties:
        return _has_example(properties["data"], depth + 1)
    if "items" in properties and "next_cursor" in properties:  # a Page
        return _has_example(properties["items"], depth + 1)
    if resolved.get("type") == "array" and "items" in resolved:
        return _has_example(resolved["items"], depth + 1)
    return False


def _schemas_of(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for parameter in operation.get("parameters", []):
        yield parameter.get("schema", {})
    for media in operation.get("requestBody", {}).get("content", {}).values():
        yield media.get("schema", {})
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            yield media.get("schema", {})


def _number_or_string(schema: Any, seen: set[str]) -> Iterator[str]:
    """Paths to every anyOf that admits both a number and a string, following $refs once each."""
    if isinstance(schema, list):
        for item in schema:
            yield from _number_or_string(item, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            for found in _number_or_string(SCHEMAS[name], seen):
                yield f"{name}.{found}" if found else name
        return
    types = {option.get("type") for option in schema.get("anyOf", []) if isinstance(option, dict)}
    if types & {"number", "integer"} and "string" in types:
        yield schema.get("title", "")
    for key, value in schema.items():
        if key in ("properties", "items", "anyOf", "allOf", "oneOf", "additionalProperties"):
            for found in _number_or_string(value if key != "properties" else list(value.values()), seen):
                yield found


def _route(path: str, method: str) -> APIRoute:
    for context in iter_route_contexts(APP.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and context.path is not None
            and openapi_path(context.path) == path
            and method.upper() in (context.methods or ())
        ):
            return route
    raise LookupError(f"{method} {path}")


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def expected_statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    """The statuses the kit and the auth dependencies can answer for this route."""
    route = _route(path, method)
    names = {getattr(call, "__name__", "") for call in _calls(route.dependant)}
    # Every route may meet an unavailable dependency, except liveness, which touches none.
    expected = {"503"} if path != "/health/live" else set()
    if operation.get("parameters") or operation.get("requestBody"):
        expected.add("400")
    if "_authenticate" in names:
        expected.add("401")
    if names & {"_current_user", "_store_context", "guard"}:
        expected.add("403")
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        expected |= {"413", "415"}
    if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
        expected |= {"409", "422"}
    if any(getattr(call, RATE_LIMIT_MARK, None) for call in _calls(route.dependant)):
        expected.add("429")
    return expected


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_operation_has_a_description(path: str, method: str, operation: dict[str, Any]) -> None:
    assert (operation.get("description") or "").strip(), "no description (write the handler's docstring)"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_request_body_has_an_example(path: str, method: str, operation: dict[str, Any]) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, media in content.items():
        example = media.get("example") is not None or bool(media.get("examples"))
        assert example or _has_example(media.get("schema", {})), f"{media_type} request body has no example"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_success_responses_have_an_example(path: str, method: str, operation: dict[str, Any]) -> None:
    missing = [
        status
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
        for media_type, media in response.get("content", {}).items()
        if media_type.endswith("json")
        and not (
            media.get("example") is not None or media.get("examples") or _has_example(media.get("schema", {}))
        )
    ]
    assert missing == [], f"2xx JSON responses without an example: {missing}"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_no_number_or_string_unions(path: str, method: str, operation: dict[str, Any]) -> None:
    seen: set[str] = set()
    found = [where for schema in _schemas_of(operation) for where in _number_or_string(schema, seen)]
    assert found == [], f"anyOf[number, string] at {found}"


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_statuses_the_dependencies_produce_are_declared(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    declared = set(operation.get("responses", {}))
    missing = sorted(expected_statuses(path, method, operation) - declared)
    assert missing == [], f"undeclared statuses {missing}"


# --- the kit's global declarations ------------------------------------------------------------------


def _operation(path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = DOCUMENT["paths"][path][method]
    return operation


def test_every_response_declares_x_request_id() -> None:
    for _, _, operation in TRIPLES:
        for status, response in operation["responses"].items():
            assert response["headers"]["X-Request-ID"]["required"] is True, status


def test_idempotency_key_states_the_servers_rule() -> None:
    checkout = _operation("/api/v1/checkout", "post")
    [header] = [p for p in checkout["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["required"] is True
    for key in ("minLength", "maxLength", "pattern"):
        assert header["schema"][key] == IDEMPOTENCY_KEY_SCHEMA[key]
    assert {"409", "422"} <= set(checkout["responses"])
    assert checkout["responses"]["201"]["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
    assert "Retry-After" in checkout["responses"]["409"]["headers"]


def test_rate_limited_routes_declare_429_with_retry_after() -> None:
    for path in ("/api/v1/auth/login", "/api/v1/auth/register", "/api/admin/v1/auth/login"):
        response = _operation(path, "post")["responses"]["429"]
        assert response["headers"]["Retry-After"]["required"] is True, path
    assert "429" not in _operation("/api/v1/cart", "get")["responses"]


def test_json_body_routes_declare_413_and_415() -> None:
    for path, method, operation in TRIPLES:
        has_json = "application/json" in operation.get("requestBody", {}).get("content", {})
        assert has_json == ("415" in operation["responses"]), f"{method} {path}"
        if has_json:
            assert "413" in operation["responses"], f"{method} {path}"


def test_token_responses_declare_x_pf_token() -> None:
    headers = _operation("/api/v1/auth/login", "post")["responses"]["200"]["headers"]
    assert "X-PF-Token" in headers
    assert "X-PF-Token" not in _operation("/api/v1/stores/me", "get")["responses"]["200"]["headers"]


def test_cursors_are_opaque_strings_with_a_pattern_and_pages_render_properly() -> None:
    cursors = [
        parameter
        for _, _, operation in TRIPLES
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "cursor"
    ]
    assert len(cursors) > 10
    for parameter in cursors:
        schema = parameter["schema"]
        string = next((s for s in schema.get("anyOf", []) if s.get("type") == "string"), schema)
        assert string["pattern"] == CURSOR_PATTERN
    pages = [schema for name, schema in SCHEMAS.items() if name.startswith("Page_")]
    assert pages
    for page in pages:
        assert page["properties"]["total"]["type"] == "integer"  # absent or a number, never null
        assert page["required"] == ["items", "next_cursor"]
