"""Request pipeline middleware: request id, access log, metrics and the last-resort 500 renderer."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

import structlog
from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from starlette._utils import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packfinderz.kit.errors import (
    DependencyError,
    MethodNotAllowed,
    UnsupportedMediaType,
    dependency_of,
    error_body,
    render,
)
from packfinderz.kit.idempotency import OUTCOME_KEY

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


ProxyNetworks = Sequence[IPv4Network | IPv6Network]
# Loopback and private networks: where a proxy in front of the api (the Heroku router) connects from.
DEFAULT_PROXY_NETWORKS: ProxyNetworks = tuple(
    ip_network(n)
    for n in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    )
)


def client_ip(scope: Scope, trusted_hops: int, proxies: ProxyNetworks = DEFAULT_PROXY_NETWORKS) -> str | None:
    """Client IP: the n-th X-Forwarded-For entry from the right (Heroku router), else the peer.

    X-Forwarded-For counts only when the peer is a proxy (its address is in `proxies`) and the header
    has at least n entries: a client reaching the api directly, or around a proxy, cannot choose its IP.
    """
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if trusted_hops <= 0 or peer is None or not _is_proxy(peer, proxies):
        return peer
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            entries: list[str] = [e.strip() for e in value.decode("latin-1").split(",") if e.strip()]
            if len(entries) >= trusted_hops:
                return entries[len(entries) - trusted_hops]
            return peer
    return peer


def _is_proxy(peer: str, proxies: ProxyNetworks) -> bool:
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies if network.version == address.version)


class RequestContextMiddleware:
    """Binds the request id, logs request.start/request.complete, records metrics, renders crashes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        env: str,
        trusted_proxy_hops: int = 1,
        trusted_proxy_networks: ProxyNetworks = DEFAULT_PROXY_NETWORKS,
    ) -> None:
        self.app = app
        self.env = env
        self.trusted_proxy_hops = trusted_proxy_hops
        self.trusted_proxy_networks = trusted_proxy_networks

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
        log.debug("request.start", method=method, path=path)  # the access line is request.complete

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
            state = scope.get("state", {})
            auth = state.get("auth_context") or {}
            outcome = state.get(OUTCOME_KEY)
            (log.debug if quiet else log.info)(
                "request.complete",
                method=method,
                route=route,
                path=path,
                status=status,
                duration_ms=round(duration * 1000, 2),
                client_ip=client_ip(scope, self.trusted_proxy_hops, self.trusted_proxy_networks),
                **auth,
                **({"idempotency_outcome": outcome} if outcome else {}),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    return str(template) if template else "unknown"


@dataclass(frozen=True)
class _Operation:
    """One route as the method guard sees it: its path pattern, methods and whether it reads JSON."""

    pattern: re.Pattern[str]
    params: int  # path parameters in the template: fewer = more specific
    methods: frozenset[str]
    json_body: bool


def _operations(app: Any) -> list[_Operation]:
    found: list[_Operation] = []
    for context in iter_route_contexts(app.routes):
        pattern = getattr(context, "path_regex", None)
        if pattern is None:
            continue
        original = context.original_route
        body = getattr(original, "body_field", None)
        media_type = getattr(getattr(body, "field_info", None), "media_type", "")
        found.append(
            _Operation(
                pattern=pattern,
                params=len(getattr(context, "param_convertors", {}) or {}),
                # a Mount (static files) answers every method itself: None = leave it alone
                methods=frozenset(context.methods or ("*",)),
                json_body=body is not None and str(media_type).endswith("json"),
            )
        )
    return found


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class MethodGuardMiddleware:
    """HTTP semantics the router does not give on its own (issue #18).

    - 405 with `Allow` naming every method of the path, judged on the most specific template that
      matches (fewest path parameters): `DELETE /stores/me/users/invite` is a 405 (the path is
      POST-only), not a 400 from `DELETE /stores/me/users/{user_id}` parsing "invite" as an id.
    - 415 UNSUPPORTED_MEDIA_TYPE for a body sent to a JSON-body route without `Content-Type:
      application/json` (or `+json`): a missing or text/plain type names the expected type instead
      of failing validation as "not a valid dictionary".
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[_Operation] | None = None
        # The operations matching a path, remembered for the most recent paths: a fixed path (search,
        # cart, checkout) is matched against every template once, not on every request.
        self._matching = functools.lru_cache(maxsize=4096)(self._match)

    def _match(self, path: str) -> tuple[_Operation, ...]:
        assert self._table is not None
        return tuple(op for op in self._table if op.pattern.match(path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._table is None:
            self._table = _operations(scope["app"])
        matches = self._matching(get_route_path(scope))
        method: str = scope["method"]
        if matches and not any("*" in op.methods for op in matches):
            fewest = min(op.params for op in matches)
            allowed = set().union(*(op.methods for op in matches if op.params == fewest))
            if method not in allowed:
                allow = ", ".join(sorted(allowed))
                await render(MethodNotAllowed(headers={"Allow": allow}))(scope, receive, send)
                return
            serving = next(op for op in matches if method in op.methods)
            if serving.json_body and _has_body(scope):
                content_type = _header(scope, b"content-type")
                if not _is_json(content_type):
                    refusal = UnsupportedMediaType(
                        details={"Content-Type": f"must be application/json (got {content_type or 'none'})"}
                    )
                    await render(refusal)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), "")


def _has_body(scope: Scope) -> bool:
    if _header(scope, b"transfer-encoding"):
        return True
    length = _header(scope, b"content-length")
    return length.strip() not in ("", "0")
