"""Cron expressions: parsing and the latest scheduled minute at or before a moment (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from packfinderz.cron.schedule import CronSchedule, CronSyntaxError
from packfinderz.cron.scheduler import SCHEDULE


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "now", "latest"),
    [
        ("15 0 * * *", "2026-11-25T00:15:00", "2026-11-25T00:15:00"),
        ("15 0 * * *", "2026-11-25T00:14:59", "2026-11-24T00:15:00"),
        ("15 0 * * *", "2026-11-25T13:00:00", "2026-11-25T00:15:00"),
        ("10 * * * *", "2026-11-25T13:09:00", "2026-11-25T12:10:00"),
        ("10 * * * *", "2026-11-25T13:10:30", "2026-11-25T13:10:00"),
        ("*/15 * * * *", "2026-11-25T13:44:00", "2026-11-25T13:30:00"),
        ("0 9-17/4 * * *", "2026-11-25T16:59:00", "2026-11-25T13:00:00"),
        ("0 6 * * 1", "2026-11-25T12:00:00", "2026-11-23T06:00:00"),  # 2026-11-25 is a Wednesday
        ("0 6 * * 7", "2026-11-25T12:00:00", "2026-11-22T06:00:00"),  # 7 = Sunday
        ("0 0 1 * *", "2026-11-25T12:00:00", "2026-11-01T00:00:00"),
        ("0 0 1 * 3", "2026-11-24T12:00:00", "2026-11-18T00:00:00"),  # day fields OR-ed: Wednesday
        ("30 2 29 2 *", "2026-11-25T12:00:00", "2024-02-29T02:30:00"),
        ("0,30 12 * 1,11 *", "2026-11-25T12:29:00", "2026-11-25T12:00:00"),
    ],
)
def test_latest_scheduled_minute(expression: str, now: str, latest: str) -> None:
    assert CronSchedule.parse(expression).latest(at(now)) == at(latest)


@pytest.mark.parametrize(
    "expression",
    ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *", "a * * * *"],
)
def test_malformed_expressions_are_refused(expression: str) -> None:
    with pytest.raises(CronSyntaxError):
        CronSchedule.parse(expression)


def test_every_job_of_the_table_parses() -> None:
    for spec in SCHEDULE:
        assert spec.cron.latest(at("2026-11-25T12:00:00")) is not None
