"""Ranges and buckets of the dashboards (money-ads-analytics.md §3.3), in ANALYTICS_TZ.

A range is half-open `[start, end)`. Buckets are local-time periods: an hour (span ≤ 48 h), a day
(span ≤ 90 d) or an ISO week from Monday (longer); every bucket of the range is listed, so series are
zero-filled, and a DST change gives a 23- or 25-hour day rather than a shifted bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from packfinderz.kit.errors import ValidationFailed

Preset = Literal["7d", "30d", "90d"]
Bucket = Literal["hour", "day", "week"]
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PRESET: Preset = "30d"
MAX_SPAN = timedelta(days=366)
HOURLY_MAX = timedelta(hours=48)
DAILY_MAX = timedelta(days=90)


@dataclass(frozen=True)
class Range:
    """`[start, end)` with its bucket size and zone."""

    start: datetime
    end: datetime
    bucket: Bucket
    tz: ZoneInfo

    def buckets(self) -> list[datetime]:
        """The start of every bucket overlapping the range, oldest first (aware, in the zone)."""
        return bucket_starts(self.start, self.end, self.bucket, self.tz)

    def label(self, moment: datetime) -> str:
        """The label of the bucket starting at `moment`."""
        return bucket_label(moment, self.bucket, self.tz)


def wall_span(start: datetime, end: datetime, tz: ZoneInfo) -> timedelta:
    """Local wall-clock length: 90 calendar days are 90 days even when a DST change adds an hour."""
    return end.astimezone(tz).replace(tzinfo=None) - start.astimezone(tz).replace(tzinfo=None)


def real_span(start: datetime, end: datetime) -> timedelta:
    """Elapsed time (aware datetimes of one zone subtract as wall clocks, hence UTC)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def bucket_for(start: datetime, end: datetime, tz: ZoneInfo) -> Bucket:
    """hour up to 48 elapsed hours, day up to 90 local days, ISO week beyond."""
    if real_span(start, end) <= HOURLY_MAX:
        return "hour"
    if wall_span(start, end, tz) <= DAILY_MAX:
        return "day"
    return "week"


def _bound(value: str, tz: ZoneInfo, *, end: bool, field: str) -> datetime:
    """RFC3339 instant, or a date meaning the start (from) / end (to) of that day in the zone; 400 for a
    moment that exists nowhere in the calendar once in the zone (e.g. `9999-12-31T23:00:00-12:00`)."""
    try:
        return _parse_bound(value, tz, end=end, field=field)
    except OverflowError:
        raise ValidationFailed(f"{field} is out of range", details={"field": field}) from None


def _parse_bound(value: str, tz: ZoneInfo, *, end: bool, field: str) -> datetime:
    text = value.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed(f"{field} is not a date", details={"field": field}) from None
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(), tz)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{field} is not RFC3339 or YYYY-MM-DD", details={"field": field}) from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValidationFailed(f"{field} needs a time zone offset", details={"field": field})
    return parsed.astimezone(tz)


def resolve(tz_name: str, now: datetime, preset: str | None, from_: str | None, to: str | None) -> Range:
    """The range asked for: a preset (default 30d) or a custom `from` + `to`; 400 on any bad mix."""
    tz = ZoneInfo(tz_name)
    if preset is not None and (from_ is not None or to is not None):
        raise ValidationFailed("give either preset or from and to, not both")
    if (from_ is None) != (to is None):
        raise ValidationFailed("from and to go together", details={"field": "to" if to is None else "from"})
    if from_ is not None and to is not None:
        start = _bound(from_, tz, end=False, field="from")
        end = _bound(to, tz, end=True, field="to")
        if real_span(start, end) <= timedelta(0):
            raise ValidationFailed("to must be after from", details={"field": "to"})
        if wall_span(start, end, tz) > MAX_SPAN:
            raise ValidationFailed("the range spans more than 366 days", details={"field": "to"})
    else:
        chosen = preset or DEFAULT_PRESET
        if chosen not in PRESET_DAYS:
            raise ValidationFailed("unknown preset", details={"field": "preset"})
        end = now.astimezone(tz)
        # The same local time N days ago (wall-clock arithmetic in the zone).
        start = (end.replace(tzinfo=None) - timedelta(days=PRESET_DAYS[chosen])).replace(tzinfo=tz)
    return Range(start.astimezone(tz), end.astimezone(tz), bucket_for(start, end, tz), tz)


def floor(moment: datetime, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The start of the local bucket holding `moment` (as date_trunc(bucket, ts, tz) computes it)."""
    local = moment.astimezone(tz)
    if bucket == "hour":
        # Wall-clock truncation, resolved to the same fold so a repeated hour keeps its own offset.
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC).astimezone(tz)
    day = local.date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    return datetime.combine(day, time(), tz)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket, tz: ZoneInfo) -> list[datetime]:
    """Every bucket start from the one holding `start` up to (excluding) `end`."""
    found: list[datetime] = []
    current = floor(start, bucket, tz)
    while current.astimezone(UTC) < end.astimezone(UTC):
        found.append(current)
        if bucket == "hour":
            current = floor(current.astimezone(UTC) + timedelta(hours=1), "hour", tz)
        else:
            step = 7 if bucket == "week" else 1
            current = datetime.combine(current.date() + timedelta(days=step), time(), tz)
    return found


def bucket_label(moment: datetime, bucket: Bucket, tz: ZoneInfo) -> str:
    """`YYYY-MM-DDTHH:00:00±HH:MM` for hours, `YYYY-MM-DD` (week: its Monday) otherwise."""
    local = moment.astimezone(tz)
    if bucket == "hour":
        return local.isoformat(timespec="seconds")
    return local.date().isoformat()
