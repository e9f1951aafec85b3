"""GET /health/live, GET /health/ready and GET /metrics."""

from __future__ import annotations

import hmac
import os
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from pydantic import BaseModel, ConfigDict

from packfinderz.health.checks import Readiness
from packfinderz.kit.errors import DependencyError, Unauthorized, error_body
from packfinderz.kit.openapi import error_responses

router = APIRouter(tags=["health"])
log = structlog.get_logger("health")


class LiveStatus(BaseModel):
    status: Literal["live"]


class LiveResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": {"status": "live"}}]})

    data: LiveStatus


class ReadyStatus(BaseModel):
    status: Literal["ready"]
    checks: dict[str, dict[str, Any]]


class ReadyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "status": "ready",
                        "checks": {
                            "postgres": {
                                "status": "ok",
                                "revision": "20261207050000",
                                "head": "20261207050000",
                                "migrations": "at_head",
                                "latency_ms": 11.94,
                            },
                            "redis": {"status": "ok", "latency_ms": 1.74},
                            "events": {"status": "ok", "adapter": "redis", "latency_ms": 1.72},
                            "storage": {"status": "ok", "adapter": "local", "latency_ms": 9.98},
                            "warehouse": {
                                "status": "ok",
                                "adapter": "postgres",
                                "latency_ms": 47.18,
                                "required": False,
                            },
                        },
                    }
                }
            ]
        }
    )

    data: ReadyStatus


@router.get("/health/live", response_model=LiveResponse, summary="Liveness: the process answers")
async def live() -> dict[str, Any]:
    """Always 200 while the process serves HTTP; touches no dependency. No authentication."""
    return {"data": {"status": "live"}}


@router.get(
    "/health/ready",
    response_model=ReadyResponse,
    summary="Readiness: every required dependency answers",
    responses=error_responses(
        s503="DEPENDENCY_ERROR: a required check failed, or the api is draining before shutdown; "
        "`details.checks` has every check's result."
    ),
)
async def ready(request: Request) -> Any:
    """Runs the readiness checks (each with its own timeout, results cached briefly); 200 when every
    required one passes, else 503 with the failing ones named in `details.dependency`. No authentication."""
    readiness: Readiness = request.app.state.readiness
    if getattr(request.app.state, "draining", False):
        # SIGTERM received: out of rotation first, while in-flight and late requests are still served.
        checks = {"shutdown": {"status": "fail", "error": "draining before shutdown"}}
        error = DependencyError("shutdown", {"status": "draining", "checks": checks})
        return JSONResponse(error_body(error.code, error.message, error.details), status_code=error.status)
    ok, checks = await readiness.run()
    if ok:
        return {"data": {"status": "ready", "checks": checks}}
    failing = [
        name for name, result in checks.items() if result["status"] != "ok" and result.get("required", True)
    ]
    log.warning("health.not_ready", failing=failing)
    error = DependencyError(",".join(failing), {"status": "not_ready", "checks": checks})
    return JSONResponse(error_body(error.code, error.message, error.details), status_code=error.status)


def metrics_payload() -> bytes:
    """Prometheus exposition of this process, or of every api process in multiprocess mode."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    token = settings.metrics_token
    if token is None and settings.is_prod:
        raise Unauthorized("metrics token required")  # prod never serves metrics publicly
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("invalid metrics token")
    return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)
