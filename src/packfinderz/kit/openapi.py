"""OpenAPI helpers: the error envelope model, per-route error responses, the `{"data": ...}` envelope."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
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
