"""House rule: every route handler and dependency is a coroutine.

FastAPI runs a plain `def` dependency or handler on the threadpool: one thread hop per call per
request (a queue put, a wake-up, the GIL handed back and forth), measurable on the hot routes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from packfinderz.app import create_app
from packfinderz.config import Settings


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # an included router (FastAPI >= 0.16x)
        if included is not None:
            yield from _api_routes(included.routes)


def _is_async(call: Any) -> bool:
    return (
        inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004 - a callable instance
    )


def _sync_calls(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None and not _is_async(sub.call):
            yield f"{sub.call.__module__}.{getattr(sub.call, '__qualname__', sub.call)}"
        yield from _sync_calls(sub)


def test_no_route_runs_code_on_the_threadpool(settings: Settings) -> None:
    routes = list(_api_routes(create_app(settings).routes))
    assert len(routes) > 80  # the walk found the routers (guards against FastAPI internals moving)
    sync = sorted(
        {name for route in routes for name in _sync_calls(route.dependant)}
        | {f"{route.path} handler" for route in routes if not _is_async(route.dependant.call)}
    )
    assert sync == []
