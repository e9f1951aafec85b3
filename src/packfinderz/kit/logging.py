"""Structured logging: structlog JSON lines on stdout, with redaction of secrets (platform.md §6)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from packfinderz.config import Settings

REDACTED = "[REDACTED]"

# Keys whose values are never written, whatever they hold.
_SECRET_KEY_RE = re.compile(
    r"(pass(word)?|passwd|secret|token|authorization|cookie|signature|^sig$|api_?key|password_hash|"
    r"nonce|card|cvv|cvc|dsn|credentials|signed_url|temporary_password)",
    re.IGNORECASE,
)
# Values that look like secrets wherever they appear: JWTs, bearer tokens, signed URL query strings and
# `password=...` pairs (also in exception messages and libpq DSNs), and passwords inside connection URLs.
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER_RE = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_SECRET_PAIR_RE = re.compile(
    r"(?i)(\b(sig|signature|x-goog-signature|x-goog-credential|expires|token|access_token|refresh_token|"
    r"password|passwd|pwd|secret|api_key|apikey|key)=)[^&\s\"']*"
)
_URL_PASSWORD_RE = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)")


def redact_value(value: Any) -> Any:
    """Redact secret-looking substrings of a value (recursively for containers)."""
    if isinstance(value, str):
        value = _JWT_RE.sub(REDACTED, value)
        value = _BEARER_RE.sub("Bearer " + REDACTED, value)
        value = _SECRET_PAIR_RE.sub(lambda m: m.group(1) + REDACTED, value)
        return _URL_PASSWORD_RE.sub(lambda m: m.group(1) + REDACTED + m.group(3), value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret_key(k) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY_RE.search(key))


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop secret fields and scrub secret-looking values from every line."""
    for key in list(event_dict):
        if key in ("exception", "stack"):
            event_dict[key] = redact_value(event_dict[key])
        elif _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict


def _timestamp(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # RFC 3339 UTC with milliseconds (platform.md §6); structlog's strftime only offers microseconds.
    event_dict["timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event_dict


def configure_logging(
    *, service: str, env: str, instance: str, level: str = "info", fmt: str = "json", warn_stack: bool = False
) -> None:
    """Configure structlog (and the stdlib root logger) to write one JSON object per line on stdout."""
    log_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)

    def add_static(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        event_dict.setdefault("env", env)
        event_dict.setdefault("instance", instance)
        return event_dict

    def drop_warning_stacks(
        _: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if method == "warning" and not warn_stack:
            event_dict.pop("exc_info", None)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        _timestamp,
        add_static,
        drop_warning_stacks,
    ]
    renderer: Any
    if fmt == "console":
        # plain tracebacks: the rich formatter would print local variables, which may hold secrets
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        tail: list[Any] = [redact_processor, renderer]
    else:
        # Structured stacks without frame locals (structlog shows them by default; they may hold secrets).
        tracebacks = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        tail = [tracebacks, redact_processor, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Route library logs (uvicorn, alembic, asyncio) through the same JSON pipeline.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *tail,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error", "alembic"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True


def setup_logging(settings: Settings, service: str) -> None:
    """configure_logging() from the LOG_* settings of a process."""
    configure_logging(
        service=service,
        env=settings.env,
        instance=settings.instance,
        level=settings.log_level,
        fmt=settings.log_format,
        warn_stack=settings.log_warn_stack,
    )


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; `name` is bound as `logger`."""
    return structlog.get_logger(name) if name else structlog.get_logger()
