"""Request dependencies of the analytics routes: the app's warehouse and the requested range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from packfinderz.analytics.ranges import Preset, Range, resolve
from packfinderz.kit.appstate import AppSettings
from packfinderz.kit.warehouse import Warehouse

_BOUND = r"^\d{4}-\d{2}-\d{2}([Tt].+)?$"
_DATE = "RFC 3339 instant or `YYYY-MM-DD` (a date = start of `from`'s / end of `to`'s day in ANALYTICS_TZ)."


async def _warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


async def _range(
    settings: AppSettings,
    preset: Annotated[Preset | None, Query(description="Last N days up to now (default 30d).")] = None,
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, pattern=_BOUND, description=_DATE)
    ] = None,
    to: Annotated[
        str | None, Query(max_length=40, pattern=_BOUND, description=_DATE + " Span ≤ 366 days.")
    ] = None,
) -> Range:
    return resolve(settings.analytics_tz, datetime.now(UTC), preset, from_, to)


AppWarehouse = Annotated[Warehouse, Depends(_warehouse)]
RequestedRange = Annotated[Range, Depends(_range)]
