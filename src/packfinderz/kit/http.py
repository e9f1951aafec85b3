"""Request pipeline middleware: request id, access log, metrics and the last-resort 500 renderer."""

from __future__ import annotations

import json
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packfinderz.kit.errors import DependencyError, dependency_of, error_body

log = structlog.get_logger("http")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

HTTP_REQUESTS = Counter("packfinderz_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "packfinderz_http_request_duration_seconds", "HTTP request duration", ["method", "route"]
)


def current_request_id() -> str | None:
    """The id of the request being served, if any (used as the events' correlation id)."""
    return request_id_var.get()


def accept_request_id(value: str | None) -> str:
    """Keep an inbound request id when it is well formed, else mint a UUID4."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return str(uuid.uuid4())


def client_ip(scope: Scope, trusted_hops: int) -> str | None:
    """Client IP: the n-th X-Forwarded-For entry from the right (Heroku router), else the peer."""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for" and trusted_hops > 0:
            entries: list[str] = [e.strip() for e in value.decode("latin-1").split(",") if e.strip()]
            if entries:
                return entries[max(len(entries) - trusted_hops, 0)]
    client = scope.get("client")
    return str(client[0]) if client else None


class RequestContextMiddleware:
    """Binds the request id, logs request.start/request.complete, records metrics, renders crashes."""

    def __init__(self, app: ASGIApp, *, env: str, trusted_proxy_hops: int = 1) -> None:
        self.app = app
        self.env = env
        self.trusted_proxy_hops = trusted_proxy_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_HEADER.encode()), None
        )
        request_id = accept_request_id(inbound)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        path: str = scope["path"]
        method: str = scope["method"]
        quiet = path.startswith("/health") or path == "/metrics"
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500, "sent": False}
        extra_headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-packfinderz-env", self.env.encode()),
        ]
        (log.debug if quiet else log.info)("request.start", method=method, path=path)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["sent"] = True
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = headers + extra_headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # An outage of Postgres or Redis raised outside a route (a middleware, a dependency's
            # teardown, the commit) is still a 503 DEPENDENCY_ERROR with Retry-After, not a bug.
            dependency = dependency_of(exc)
            status, headers = 500, [(b"content-type", b"application/json")]
            if dependency is None:
                log.error("request.unhandled_exception", method=method, path=path, exc_info=exc)
                body = json.dumps(error_body("INTERNAL_ERROR", "internal server error")).encode()
            else:
                log.warning("request.dependency_unavailable", dependency=dependency, error=type(exc).__name__)
                error = DependencyError(dependency)
                status, body = (
                    error.status,
                    json.dumps(error_body(error.code, error.message, error.details)).encode(),
                )
                headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            if not status_holder["sent"]:
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [*headers, (b"content-length", str(len(body)).encode())],
                    }
                )
                await send_wrapper({"type": "http.response.body", "body": body})
        finally:
            duration = time.perf_counter() - started
            route = _route_template(scope)
            status = status_holder["status"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(duration)
            auth = scope.get("state", {}).get("auth_context") or {}
            (log.debug if quiet else log.info)(
                "request.complete",
                method=method,
                route=route,
                path=path,
                status=status,
                duration_ms=round(duration * 1000, 2),
                client_ip=client_ip(scope, self.trusted_proxy_hops),
                **auth,
            )
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    return str(template) if template else "unknown"
