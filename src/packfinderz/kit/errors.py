"""Typed application errors and the one renderer of the error envelope (identity.md §1.3)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("errors")


class AppError(Exception):
    """Base of every domain error: a code, an HTTP status, a public message and optional details."""

    code = "INTERNAL_ERROR"
    status = 500
    message = "internal server error"

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(AppError):
    code, status, message = "VALIDATION_ERROR", 400, "validation failed"


class Unauthorized(AppError):
    code, status, message = "UNAUTHORIZED", 401, "missing credentials"


class Forbidden(AppError):
    code, status, message = "FORBIDDEN", 403, "forbidden"


class PasswordChangeRequired(AppError):
    code, status, message = "PASSWORD_CHANGE_REQUIRED", 403, "password change required"


class NotFound(AppError):
    code, status, message = "NOT_FOUND", 404, "not found"


class MethodNotAllowed(AppError):
    code, status, message = "METHOD_NOT_ALLOWED", 405, "method not allowed"


class UnsupportedMediaType(AppError):
    code, status, message = "UNSUPPORTED_MEDIA_TYPE", 415, "Content-Type must be application/json"


class Conflict(AppError):
    code, status, message = "CONFLICT", 409, "conflict"


class IdempotencyInProgress(AppError):
    code, status, message = "IDEMPOTENCY_REQUEST_IN_PROGRESS", 409, "a request with this key is in progress"


class IdempotencyKeyReused(AppError):
    code, status, message = "IDEMPOTENCY_KEY_REUSED", 422, "idempotency key reused with a different request"


class StateConflict(AppError):
    code, status, message = "STATE_CONFLICT", 422, "state conflict"


class RateLimited(AppError):
    code, status, message = "RATE_LIMIT_EXCEEDED", 429, "rate limit exceeded"


# What a 503 DEPENDENCY_ERROR tells the client to wait before retrying: a Postgres or Redis restart
# is over in a few seconds, and a sooner retry would only add load to a recovering server.
DEPENDENCY_RETRY_AFTER_SECONDS = 2


class DependencyError(AppError):
    code, status, message = "DEPENDENCY_ERROR", 503, "dependency unavailable"

    def __init__(self, dependency: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(
            details={"dependency": dependency, **(details or {})},
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)},
        )


# SQLSTATE classes that mean "the server or the connection went away", not "the request was wrong":
# 08 connection exception, 57 operator intervention (admin shutdown, cannot connect now), 53 resources.
_DEPENDENCY_SQLSTATE_CLASSES = ("08", "57", "53")
_POSTGRES_CONNECTION_ERRORS = (
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "AdminShutdownError",
    "InterfaceError",
    "InternalClientError",
    "ConnectionRejectionError",
    "TooManyConnectionsError",
)


def dependency_of(exc: BaseException) -> str | None:
    """The dependency ("postgres" or "redis") whose outage raised `exc` (or caused it), else None.

    A Postgres or Redis restart surfaces as many exception types depending on the moment it hits
    (refused connect, connection reset mid-query, pool timeout, admin shutdown, Redis OOM under memory
    pressure); each is an outage of that dependency, answered 503 DEPENDENCY_ERROR, never a 500.
    """
    from redis.exceptions import RedisError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RedisError):
            return "redis"
        if isinstance(current, PoolTimeout):
            return "postgres"
        if isinstance(current, DBAPIError):
            sqlstate = _sqlstate(current) or ""
            if current.connection_invalidated or sqlstate[:2] in _DEPENDENCY_SQLSTATE_CLASSES:
                return "postgres"
        module = type(current).__module__
        if module.startswith("asyncpg") and type(current).__name__ in _POSTGRES_CONNECTION_ERRORS:
            return "postgres"
        if isinstance(current, OSError):
            # refused or reset sockets: Redis errors are wrapped by redis-py, so a bare one is Postgres
            return "postgres"
        current = current.__cause__ or current.__context__
    return None


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The canonical error envelope."""
    return {"error": {"code": code, "message": message, "details": details}}


def render(exc: AppError) -> JSONResponse:
    """Render an AppError as its envelope with its status and headers."""
    return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers)


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field_path(loc: tuple[Any, ...]) -> str:
    # Only the leading element names where the value came from: a field may itself be called `query`
    # or `body` (address suggest's `query`, a review's `body`).
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    return ".".join(parts) or "body"


def _field_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not allowed"
    if kind == "json_invalid":
        return "malformed JSON"
    if kind in ("enum", "literal_error"):
        expected = str(error.get("ctx", {}).get("expected", "")).replace("' or '", "', '")
        return f"must be one of: {expected}".replace("'", "")
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def validation_details(errors: Any) -> dict[str, str]:
    """Field map `{dotted.path: message}` from pydantic errors (first message per field wins)."""
    details: dict[str, str] = {}
    for error in errors:
        # A JSON syntax error's loc ends with a character offset, which is not a field.
        loc = ("body",) if error.get("type") == "json_invalid" else tuple(error.get("loc", ()))
        details.setdefault(_field_path(loc), _field_message(error))
    return details


def from_database_error(exc: DBAPIError) -> AppError:
    """Database fallback mapping (identity.md §1.3) for errors no service translated."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    constraint = getattr(getattr(orig, "__cause__", None), "constraint_name", None)
    if isinstance(exc, IntegrityError) or (sqlstate or "").startswith("23"):
        if sqlstate == "23505":
            return Conflict(details={"constraint": constraint})
        if sqlstate == "23503":
            return ValidationFailed("invalid reference", details={"constraint": constraint})
        return ValidationFailed(details={"constraint": constraint})
    if (sqlstate or "").startswith("22"):
        return ValidationFailed()
    return DependencyError("postgres")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error, including FastAPI's own 404/405/validation errors, through the envelope."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        level = "error" if exc.status >= 500 else "info"
        getattr(log, level)("request.error", error_code=exc.code, error=exc.message, status=exc.status)
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return render(ValidationFailed(details=validation_details(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return render(NotFound())
        if exc.status_code == 405:
            return render(MethodNotAllowed(headers=dict(exc.headers or {})))
        code = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}.get(
            exc.status_code, "INTERNAL_ERROR" if exc.status_code >= 500 else "CONFLICT"
        )
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        mapped = from_database_error(exc)
        log.warning("request.database_error", error_code=mapped.code, pg_code=_sqlstate(exc))
        return render(mapped)

    from redis.exceptions import RedisError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    async def _dependency(_: Request, exc: Exception) -> JSONResponse:
        dependency = dependency_of(exc)
        if dependency is None:
            raise exc  # not an outage: the last-resort 500 renderer logs it with its stack
        log.warning("request.dependency_unavailable", dependency=dependency, error=type(exc).__name__)
        return render(DependencyError(dependency))

    for kind in (RedisError, PoolTimeout, OSError):
        app.add_exception_handler(kind, _dependency)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None)
