"""OpenAPI helpers: the error envelope model, per-route error responses, the `{"data": ...}` envelope."""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from packfinderz.kit.idempotency import HEADER, MAX_KEY_LENGTH, REPLAY_HEADER
from packfinderz.kit.pagination import CURSOR_DESCRIPTION, CURSOR_MAX_LENGTH, CURSOR_PATTERN
from packfinderz.kit.ratelimit import RATE_LIMIT_MARK

T = TypeVar("T")


class ErrorDetail(BaseModel):
    """`{"code", "message", "details"}`; `details` is a field map for VALIDATION_ERROR."""

    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["validation failed"])
    details: dict[str, Any] | None = Field(default=None, examples=[{"email": "is required"}])


class ErrorResponse(BaseModel):
    """The error envelope of every non-2xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "VALIDATION_ERROR",
                        "message": "validation failed",
                        "details": {"email": "is required"},
                    }
                }
            ]
        }
    )

    error: ErrorDetail


class DataResponse(BaseModel, Generic[T]):
    """The success envelope `{"data": <payload>}`."""

    data: T


_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: malformed JSON, unknown fields or invalid values (`details` maps fields).",
    401: "UNAUTHORIZED: missing credentials, invalid token, or session expired or revoked.",
    403: "FORBIDDEN or PASSWORD_CHANGE_REQUIRED: the caller may not do this.",
    404: "NOT_FOUND.",
    409: "CONFLICT (unique index, `details.constraint`) or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
    422: "IDEMPOTENCY_KEY_REUSED (`details.key`) or STATE_CONFLICT.",
    429: "RATE_LIMIT_EXCEEDED: retry after `Retry-After` seconds.",
    503: "DEPENDENCY_ERROR: a dependency (`details.dependency`) is unavailable.",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the error envelope model (503 is always listed).

    A keyword `s409="..."` replaces the default description of that status.
    """
    wanted = sorted({*statuses, 503})
    return {
        status: {"model": ErrorResponse, "description": descriptions.get(f"s{status}", _DESCRIPTIONS[status])}
        for status in wanted
    }


_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_JSON_ERROR = {"application/json": {"schema": _ERROR_REF}}
_GLOBAL_STATUSES = {
    405: "METHOD_NOT_ALLOWED: not a method of this path; `Allow` lists the methods it has.",
    413: "PAYLOAD_TOO_LARGE: the body is larger than the server's limit (MAX_REQUEST_BODY_BYTES).",
    415: "UNSUPPORTED_MEDIA_TYPE: a body was sent without `Content-Type: application/json`.",
    429: "RATE_LIMIT_EXCEEDED: too many attempts; retry after `Retry-After` seconds.",
}
# h11 strips the header's surrounding whitespace; the server then wants 1..255 printable ASCII characters.
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": "^[!-~]([ -~]*[!-~])?$",
    "examples": ["checkout-5f0c2a9e-7d1b-4c51-9a43-0e8c7b9d2f11"],
}
_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the inbound `X-Request-ID` when well formed, else a new UUID); "
        "quote it when reporting a problem.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this answer is the stored first answer to the same `Idempotency-Key` "
        "and body (absent on a first answer).",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
    "X-PF-Token": {
        "description": "The access token of the body, for clients that read headers (absent when the body "
        "has none, e.g. an idempotent replay).",
        "required": False,
        "schema": {"type": "string"},
    },
}


def _header(name: str, **overrides: Any) -> dict[str, Any]:
    return {**_HEADERS[name], **overrides}


def openapi_path(path: str) -> str:
    """A route path as the document writes it: `/upload/{key:path}` -> `/upload/{key}`."""
    return _CONVERTER.sub(r"{\1}", path)


_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _route_marks(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    """(path, method) -> marks found in the route's dependency tree (today: rate limits)."""
    marks: dict[tuple[str, str], set[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        found: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            if getattr(dependant.call, RATE_LIMIT_MARK, None):
                found.add("rate_limit")
            pending.extend(dependant.dependencies)
        for method in context.methods or ():
            marks[(openapi_path(context.path), method.lower())] = found
    return marks


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def _issues_token(document: dict[str, Any], response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return False
    envelope = _resolve(document, schema)
    data = envelope.get("properties", {}).get("data")
    return bool(data) and "access_token" in _resolve(document, data).get("properties", {})


def declare_globals(document: dict[str, Any], marks: dict[tuple[str, str], set[str]]) -> None:
    """What the kit enforces for every route, stated per operation (issue #18).

    Driven by what each operation has: a JSON body (413, 415), an `Idempotency-Key` header (its rule,
    409/422, `Idempotent-Replayed`, `Retry-After` on 409), a rate-limit dependency (429 +
    `Retry-After`), a token-issuing body (`X-PF-Token`); every response carries `X-Request-ID`; 429
    and 503 carry `Retry-After`; every `cursor` query parameter is an opaque base64url string.
    """
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})

            def add(
                status: int, description: str | None = None, responses: dict[str, Any] = responses
            ) -> None:
                responses.setdefault(
                    str(status),
                    {"description": description or _GLOBAL_STATUSES.get(status, ""), "content": _JSON_ERROR},
                )

            body = operation.get("requestBody", {}).get("content", {})
            if body:
                add(413)
                add(400, "VALIDATION_ERROR: malformed JSON, unknown fields or invalid values.")
            if "application/json" in body:
                add(415)
            if "rate_limit" in marks.get((path, method), set()):
                add(429)
            idempotent = False
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == HEADER:
                    idempotent = True
                    parameter["schema"] = {**parameter.get("schema", {}), **IDEMPOTENCY_KEY_SCHEMA}
                    parameter["schema"].pop("anyOf", None)
                elif parameter.get("in") == "query" and parameter.get("name") == "cursor":
                    schema = parameter.setdefault("schema", {})
                    target = next((s for s in schema.get("anyOf", []) if s.get("type") == "string"), schema)
                    target.setdefault("pattern", CURSOR_PATTERN)
                    target.setdefault("maxLength", CURSOR_MAX_LENGTH)
                    parameter.setdefault("description", CURSOR_DESCRIPTION)
            if idempotent:
                add(409, _DESCRIPTIONS[409])
                add(422, _DESCRIPTIONS[422])
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", _header("X-Request-ID"))
                if status == "429":
                    headers.setdefault("Retry-After", _header("Retry-After"))
                if status == "503":  # DEPENDENCY_ERROR sets it; an adapter's own 503 may not know when
                    headers.setdefault("Retry-After", _header("Retry-After", required=False))
                if idempotent and status == "409":
                    headers.setdefault(
                        "Retry-After",
                        _header(
                            "Retry-After", required=False, description="On IDEMPOTENCY_REQUEST_IN_PROGRESS."
                        ),
                    )
                if idempotent and not status.startswith("5"):
                    headers.setdefault(REPLAY_HEADER, _header(REPLAY_HEADER))
                if status.startswith("2") and _issues_token(document, response):
                    headers.setdefault("X-PF-Token", _header("X-PF-Token"))


def install_openapi(app: FastAPI) -> None:
    """Generate the schema without FastAPI's default 422 responses (validation errors answer 400 here),
    then declare what the kit enforces globally (`declare_globals`)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                default_422 = responses.get("422", {})
                if "HTTPValidationError" in str(default_422):
                    responses.pop("422")
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.setdefault(
            "ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        declare_globals(document, _route_marks(app))
        app.openapi_schema = document
        return document

    app.openapi = schema  # type: ignore[method-assign]


# Swagger UI and ReDoc builds shipped inside the fastapi-offline wheel (pinned in uv.lock): the docs pages
# load nothing from a CDN, so they work air-gapped (issue #18). Only its files are used, not its app class.
DOCS_ASSETS = "/docs/assets"
_ASSET_DIR = str(files("fastapi_offline") / "static")


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve /docs (Swagger UI) and /redoc (ReDoc) with their scripts, styles and icon from the package."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSET_DIR), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
