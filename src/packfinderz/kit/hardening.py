"""HTTP hardening: bounded request bodies, bounded JSON nesting, security headers on every response.

Both middlewares are raw ASGI so that they act before anything reads the body (FastAPI parses JSON only
after the whole body is in memory) and on every response, error renderers and static files included.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packfinderz.kit.errors import error_body

# The local storage adapter's signed upload route streams the file to disk under the signed size limit
# (identity.md §11.2); every other route takes JSON or nothing.
UNBOUNDED_PREFIXES = ("/api/storage/v1/upload/",)

_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


class _TooDeep(Exception):
    pass


class JsonDepthScanner:
    """Tracks the nesting depth of a JSON text fed in chunks (strings and escapes understood)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the previous byte of a string was an unescaped backslash

    def feed(self, chunk: bytes) -> None:
        """Raise _TooDeep as soon as the depth passes the limit; malformed JSON is left to the parser."""
        skip_at = 0 if self.escaped else -1
        self.escaped = False
        for match in _STRUCTURE.finditer(chunk):
            at = match.start()
            if at == skip_at:
                continue
            char = chunk[at : at + 1]
            if self.in_string:
                if char == b"\\":
                    if at + 1 == len(chunk):
                        self.escaped = True
                    skip_at = at + 1
                elif char == b'"':
                    self.in_string = False
            elif char == b'"':
                self.in_string = True
            elif char in (b"[", b"{"):
                self.depth += 1
                if self.depth > self.limit:
                    raise _TooDeep
            elif char in (b"]", b"}"):
                self.depth -= 1


class BodyLimitMiddleware:
    """413 for bodies over the cap (before reading past it); 400 for JSON nested deeper than the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(UNBOUNDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server rejects a malformed Content-Length itself
            if too_large:
                await _refuse(send, 413, "PAYLOAD_TOO_LARGE", self._too_large_message())
                return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        scanner = JsonDepthScanner(self.max_json_depth) if content_type.endswith(b"json") else None
        # The body is read here, chunk by chunk, and handed on only once it passed both bounds: reading
        # stops at the first byte over the cap, and no handler ever sees an oversized or too deep body.
        messages: list[Message] = []
        received = 0
        more = True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:  # chunked bodies declare no length
                await _refuse(send, 413, "PAYLOAD_TOO_LARGE", self._too_large_message())
                return
            if scanner is not None:
                try:
                    scanner.feed(chunk)
                except _TooDeep:
                    detail = f"JSON nested deeper than {self.max_json_depth} levels"
                    await _refuse(send, 400, "VALIDATION_ERROR", "validation failed", {"body": detail})
                    return
            more = bool(message.get("more_body", False))

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()  # after the body: waits for the disconnect, as the server would

        await self.app(scope, replay, send)

    def _too_large_message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


async def _refuse(
    send: Send, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def security_headers(*, hsts_max_age: int | None) -> list[tuple[bytes, bytes]]:
    """Headers every response carries unless the route set its own (storage routes set a stricter CSP)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts_max_age:
        headers.append((b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode()))
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (HSTS only when given a max-age, i.e. in prod)."""

    def __init__(self, app: ASGIApp, *, hsts_max_age: int | None) -> None:
        self.app = app
        self.headers = security_headers(hsts_max_age=hsts_max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
