"""The worker's optional HTTP endpoint: /health/live and /metrics on WORKER_METRICS_PORT (platform.md §2)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from packfinderz.config import Settings
from packfinderz.health.router import live, metrics
from packfinderz.kit.errors import install_error_handlers
from packfinderz.kit.http import RequestContextMiddleware


def create_worker_http_app(settings: Settings) -> FastAPI:
    """The worker's app: liveness and metrics only (readiness belongs to the api; roles gate themselves)."""
    app = FastAPI(title="PackFinderz worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        env=settings.env,
        trusted_proxy_hops=settings.trusted_proxy_hops,
        trusted_proxy_networks=settings.proxy_networks,
    )
    app.add_api_route("/health/live", live, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    return app


class _InLoopServer(uvicorn.Server):
    """uvicorn running as a task of the worker's loop; the worker, not uvicorn, owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WorkerHttp:
    """A started HTTP server; `stop()` closes it."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task

    @classmethod
    async def start(cls, settings: Settings, port: int, host: str = "0.0.0.0") -> WorkerHttp:
        """Bind the port (OSError when taken, before anything runs) and serve in the background."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            create_worker_http_app(settings), log_config=None, access_log=False, lifespan="off"
        )
        server = _InLoopServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="worker-http")
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers only a flag
            await asyncio.sleep(0.01)
        return cls(server, task)

    async def stop(self) -> None:
        """Stop accepting, finish open requests, close the socket."""
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
