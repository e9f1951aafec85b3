"""Request dependencies of the analytics routes: the app's warehouse and the requested range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from packfinderz.analytics.ranges import Preset, Range, resolve
from packfinderz.kit.appstate import AppSettings
from packfinderz.kit.warehouse import Warehouse

# `YYYY-MM-DD` or an RFC 3339 instant with its offset (years 1000..9999; a plain number never matches).
BOUND_PATTERN = (
    r"^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$"
)
BOUND_DESCRIPTION = (
    "RFC 3339 instant with offset or `YYYY-MM-DD` (a date = start of `from`'s / end of `to`'s day in "
    "ANALYTICS_TZ). `from` and `to` go together, `to` after `from`, span ≤ 366 days, not with `preset`."
)
RANGE_RULES = (
    "Range: `preset` (7d, 30d, 90d; default 30d) or `from` + `to` together (never with `preset`), `to` "
    "after `from`, at most 366 days apart; a calendar-invalid date (e.g. `2026-02-30`) is a 400 too. "
    "Buckets: hour up to 48 hours, day up to 90 days, ISO week beyond."
)


async def _warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


async def _range(
    settings: AppSettings,
    preset: Annotated[Preset | None, Query(description="Last N days up to now (default 30d).")] = None,
    from_: Annotated[
        str | None, Query(alias="from", max_length=40, pattern=BOUND_PATTERN, description=BOUND_DESCRIPTION)
    ] = None,
    to: Annotated[
        str | None, Query(max_length=40, pattern=BOUND_PATTERN, description=BOUND_DESCRIPTION)
    ] = None,
) -> Range:
    return resolve(settings.analytics_tz, datetime.now(UTC), preset, from_, to)


AppWarehouse = Annotated[Warehouse, Depends(_warehouse)]
RequestedRange = Annotated[Range, Depends(_range)]
