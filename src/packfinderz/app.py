"""create_app(): the FastAPI application with its lifespan, middleware, error handlers and routers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from packfinderz import __version__
from packfinderz.api import include_routers
from packfinderz.billing.factory import provider_for
from packfinderz.config import Settings, load_settings
from packfinderz.events.registry import TOPICS
from packfinderz.health.checks import Check, Readiness, postgres_check, redis_check
from packfinderz.kit import migrations
from packfinderz.kit.boot import apply_migration_policy, probe_postgres, probe_redis
from packfinderz.kit.db import create_database
from packfinderz.kit.errors import install_error_handlers
from packfinderz.kit.hardening import BodyLimitMiddleware, SecurityHeadersMiddleware
from packfinderz.kit.http import MethodGuardMiddleware, RequestContextMiddleware
from packfinderz.kit.idempotency import IdempotencyMiddleware
from packfinderz.kit.logging import setup_logging
from packfinderz.kit.openapi import install_docs, install_openapi
from packfinderz.kit.redis import create_redis
from packfinderz.kit.storage import create_storage, probe_storage
from packfinderz.kit.transport import create_transport, probe_transport
from packfinderz.kit.warehouse import create_warehouse, probe_warehouse
from packfinderz.maps.adapter import create_maps

log = structlog.get_logger("api")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open Postgres and Redis, apply the migration policy, register readiness checks; close on exit."""
    settings: Settings = app.state.settings
    database = create_database(settings)
    redis = create_redis(settings)
    app.state.db = database
    app.state.redis = redis
    storage = create_storage(settings)
    app.state.storage = storage
    app.state.billing = provider_for(settings, database)
    maps = create_maps(settings)
    app.state.maps = maps
    chain = migrations.revision_chain()
    readiness: Readiness = app.state.readiness
    readiness.add(postgres_check(database, chain))
    readiness.add(redis_check(redis))
    events = create_transport(settings, topics=TOPICS)
    app.state.events = events
    readiness.add(Check("events", events.probe, timeout=5.0))
    readiness.add(Check("storage", storage.probe, timeout=5.0))
    warehouse = create_warehouse(settings, database)
    app.state.warehouse = warehouse
    # Reported, not required (platform.md §2): analytics gate nothing.
    readiness.add(Check("warehouse", warehouse.probe, timeout=5.0, required=False))
    try:
        url = settings.database_url
        assert url is not None  # validated by load_settings(groups={"db", "app"})
        await apply_migration_policy(settings, url)
        for name, probe in (
            ("postgres", probe_postgres(database)),
            ("redis", probe_redis(redis)),
            ("events", probe_transport(events)),
            ("storage", probe_storage(storage)),
            ("warehouse", probe_warehouse(warehouse)),
        ):
            try:
                log.info("startup.resource_ok", resource=name, latency_ms=await probe)
            except Exception as exc:
                # The api keeps serving so /health/ready can say what is wrong (issue #2 decision).
                log.error("startup.resource_unavailable", resource=name, error=type(exc).__name__)
        # The billing provider is checked without a call (platform.md §2): its name is logged.
        log.info("startup.resource_ok", resource="billing", provider=app.state.billing.name, latency_ms=0)
        log.info("api.ready", env=settings.env, instance=settings.instance, version=__version__)
        yield
    finally:
        await app.state.billing.aclose()
        await maps.aclose()
        await events.close()
        await warehouse.close()
        await redis.aclose()
        await database.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; settings are read from the environment unless given."""
    settings = settings or load_settings({"db", "app"})
    docs = settings.docs_enabled  # off in prod unless API_DOCS_ENABLED (issue #17)
    app = FastAPI(
        title="PackFinderz API",
        version=__version__,
        description="B2B wholesale marketplace for licensed cannabis businesses.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from install_docs: assets served locally, no CDN
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.readiness = Readiness()
    install_error_handlers(app)
    install_openapi(app)
    if docs:
        install_docs(app)
    # Innermost: 405 with the path's every method, 415 for a JSON body sent as another type.
    app.add_middleware(MethodGuardMiddleware)
    # Then: settles idempotency claims with the final (post-commit) response (kit/idempotency.py).
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(
        RequestContextMiddleware,
        env=settings.env,
        trusted_proxy_hops=settings.trusted_proxy_hops,
        trusted_proxy_networks=settings.proxy_networks,
    )
    app.add_middleware(
        SecurityHeadersMiddleware, hsts_max_age=int(settings.hsts_max_age) if settings.is_prod else None
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
            expose_headers=["X-PF-Token", "X-Request-Id", "Idempotent-Replayed", "Retry-After"],
            max_age=300,
        )
    include_routers(app)
    return app


def app_factory() -> Any:
    """Entry point for uvicorn/gunicorn workers (`packfinderz.app:app_factory`, factory mode)."""
    settings = load_settings({"db", "app"})
    setup_logging(settings, "api")
    return create_app(settings)
