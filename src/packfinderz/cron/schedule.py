"""Five-field UTC cron expressions (minute hour day-of-month month day-of-week)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
# How far back to look for the latest matching minute; any real schedule matches within a few years.
_SEARCH_DAYS = 366 * 5


class CronSyntaxError(ValueError):
    """A malformed cron expression."""


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                start_text, end_text = base.split("-", 1)
                start, end = int(start_text), int(end_text)
            else:
                start = int(base)
                end = high if step_text else start
        except ValueError:
            raise CronSyntaxError(f"bad {name} field {text!r}") from None
        if step < 1 or not low <= start <= end <= high:
            raise CronSyntaxError(f"{name} field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression; `latest(now)` is the most recent matching minute at or before `now`."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        parts = expression.split()
        if len(parts) != len(_FIELDS):
            raise CronSyntaxError(f"cron expression {expression!r} needs 5 fields")
        minutes, hours, days, months, weekdays = (
            _parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)
        )
        return cls(
            expression=expression,
            minutes=minutes,
            hours=hours,
            days=days,
            months=months,
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=parts[2] == "*",
            any_weekday=parts[4] == "*",
        )

    def _day_matches(self, moment: datetime) -> bool:
        if moment.month not in self.months:
            return False
        in_days = moment.day in self.days
        in_weekdays = (moment.isoweekday() % 7) in self.weekdays
        # Classic cron: when both day fields are restricted, either one matching is enough.
        if not self.any_day and not self.any_weekday:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def latest(self, now: datetime) -> datetime | None:
        """The latest scheduled minute at or before `now` (UTC), or None within the search window."""
        current = now.astimezone(UTC).replace(second=0, microsecond=0)
        day = current.replace(hour=0, minute=0)
        for offset in range(_SEARCH_DAYS):
            candidate_day = day - timedelta(days=offset)
            if not self._day_matches(candidate_day):
                continue
            for hour in sorted(self.hours, reverse=True):
                for minute in sorted(self.minutes, reverse=True):
                    moment = candidate_day.replace(hour=hour, minute=minute)
                    if moment <= current:
                        return moment
        return None
