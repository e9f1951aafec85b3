"""`packfinderz cron run JOB [--day]` and `packfinderz cron status` (platform.md §12)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer

from packfinderz.cron.scheduler import SCHEDULE, RunResult, last_run, load_jobs, run_job
from packfinderz.kit.boot import process_settings
from packfinderz.kit.db import create_database
from packfinderz.kit.redis import create_redis

cron_app = typer.Typer(no_args_is_help=True, help="Run cron jobs by hand and show their last runs.")
MAX_DAY_BACK = 7


@cron_app.command("run")
def run_command(
    job: Annotated[str, typer.Argument(help="Job name, e.g. notification-cleanup.")],
    day: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (ad-daily-rollup only, <= 7 days back).")
    ] = None,
) -> None:
    """Run one job now, under its job lock only (no leader lock); exit 1 unless it succeeds."""
    jobs = {spec.name: (spec, fn) for spec, fn in load_jobs()}
    if job not in jobs:
        known = ", ".join(jobs) or "none"
        typer.echo(f"cron run: unknown or unimplemented job {job!r} (available: {known})", err=True)
        raise typer.Exit(1)
    spec, fn = jobs[job]
    chosen = _day(day, spec.accepts_day, spec.name)
    settings = process_settings({"db", "app"}, "cron")

    async def main() -> RunResult:
        database, redis = create_database(settings), create_redis(settings)
        try:
            return await run_job(spec, fn, settings=settings, db=database, redis=redis, day=chosen)
        finally:
            await redis.aclose()
            await database.dispose()

    result = asyncio.run(main())
    if result.result == "locked":
        typer.echo(f"cron run: {job} is already running elsewhere (job lock held)", err=True)
        raise typer.Exit(1)
    typer.echo(
        json.dumps(
            {
                "job": result.job,
                "run_id": result.run_id,
                "result": result.result,
                "duration_ms": result.duration_ms,
                "counts": result.counts,
                "error": result.error,
            }
        )
    )
    if result.result != "success":
        raise typer.Exit(1)


def _day(value: str | None, accepted: bool, job: str) -> date | None:
    if value is None:
        return None
    if not accepted:
        typer.echo(f"cron run: --day is not accepted by {job}", err=True)
        raise typer.Exit(1)
    try:
        chosen = date.fromisoformat(value)
    except ValueError:
        typer.echo(f"cron run: --day must be YYYY-MM-DD, got {value!r}", err=True)
        raise typer.Exit(1) from None
    today = datetime.now(UTC).date()
    if not today - timedelta(days=MAX_DAY_BACK) <= chosen <= today:
        typer.echo(f"cron run: --day must be within the last {MAX_DAY_BACK} days", err=True)
        raise typer.Exit(1)
    return chosen


@cron_app.command("status")
def status_command() -> None:
    """Every job of the schedule table with its last run (from pf:cron:last:<job>)."""
    settings = process_settings({"app"}, "cron")
    implemented = {spec.name for spec, _ in load_jobs()}

    async def main() -> list[tuple[str, dict[str, str]]]:
        redis = create_redis(settings)
        try:
            return [(spec.name, await last_run(redis, spec.name)) for spec in SCHEDULE]
        finally:
            await redis.aclose()

    disabled = settings.disabled_cron_jobs
    for spec, (name, last) in zip(SCHEDULE, asyncio.run(main()), strict=True):
        state = "disabled" if name in disabled else ("ready" if name in implemented else "not built")
        typer.echo(
            f"{name:24} {spec.schedule:12} {state:9} last={last.get('last_result', '-')} "
            f"started={last.get('last_started_at', '-')} success={last.get('last_success_at', '-')}"
        )
