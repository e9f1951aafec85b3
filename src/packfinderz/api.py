"""Mounts every domain router under its prefix."""

from __future__ import annotations

from fastapi import FastAPI

from packfinderz.health.router import router as health_router


def include_routers(app: FastAPI) -> None:
    """Attach the routers of every capability."""
    app.include_router(health_router)
