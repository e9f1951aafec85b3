"""The api's gunicorn worker: uvicorn that drains before it stops (readiness 503 first, then stop).

On SIGTERM (a deploy, a dyno restart) a worker does not stop accepting at once: for
PACKFINDERZ_SHUTDOWN_DRAIN_SECONDS it keeps serving while `/health/ready` answers 503, so that a load
balancer polling readiness takes the process out of rotation before its socket closes. Then uvicorn's
own graceful shutdown runs: stop accepting, finish in-flight requests, run the lifespan shutdown.
A second SIGTERM, or SIGINT/SIGQUIT, skips the drain.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from types import FrameType
from typing import Any

import structlog
from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

log = structlog.get_logger("api")


def start_draining(app: Any) -> None:
    """Mark the app as draining: readiness answers 503 from now on."""
    state = getattr(app, "state", None)
    if state is not None:
        state.draining = True


class DrainingServer(Server):
    """A uvicorn server whose first SIGTERM starts a drain period instead of the shutdown."""

    def __init__(self, *args: Any, drain_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_seconds = drain_seconds
        self.draining = False
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self.draining or self.should_exit or self.loop is None:
            super().handle_exit(sig, frame)
            return
        self.draining = True
        start_draining(self.config.app)  # the FastAPI app (gunicorn's loaded application)
        log.info("api.draining", seconds=self.drain_seconds)
        # Called from a signal handler: hand the timer to the loop thread-safely.
        self.loop.call_soon_threadsafe(
            self.loop.call_later, self.drain_seconds, super().handle_exit, sig, frame
        )


class DrainingUvicornWorker(UvicornWorker):  # type: ignore[misc]
    """gunicorn `--worker-class` for the api: UvicornWorker serving through DrainingServer."""

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        settings = getattr(getattr(self.wsgi, "state", None), "settings", None)
        drain = float(getattr(settings, "shutdown_drain_seconds", 0.0))
        server = DrainingServer(config=self.config, drain_seconds=drain)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
