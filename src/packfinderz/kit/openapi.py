"""OpenAPI helpers: the error envelope model, per-route error responses, the `{"data": ...}` envelope."""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

T = TypeVar("T")


class ErrorDetail(BaseModel):
    """`{"code", "message", "details"}`; `details` is a field map for VALIDATION_ERROR."""

    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["validation failed"])
    details: dict[str, Any] | None = Field(default=None, examples=[{"email": "is required"}])


class ErrorResponse(BaseModel):
    """The error envelope of every non-2xx answer."""

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


def install_openapi(app: FastAPI) -> None:
    """Generate the schema without FastAPI's default 422 responses: validation errors answer 400 here."""

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
