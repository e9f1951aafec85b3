"""`packfinderz analytics backfill [--since DATE]`: rebuild the warehouse from Postgres."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time
from typing import Annotated

import typer

from packfinderz.analytics.backfill import backfill, count_orders
from packfinderz.kit.db import create_database
from packfinderz.kit.warehouse import create_warehouse

analytics_app = typer.Typer(no_args_is_help=True, help="Analytics warehouse tools.")


@analytics_app.command("backfill")
def backfill_command(
    since: Annotated[
        str | None, typer.Option("--since", help="YYYY-MM-DD (UTC): only orders created on or after it.")
    ] = None,
) -> None:
    """Rebuild warehouse rows from orders, ledger and ad rollups; safe to run again."""
    from packfinderz.kit.boot import process_settings

    start: datetime | None = None
    if since is not None:
        try:
            start = datetime.combine(date.fromisoformat(since), time(), UTC)
        except ValueError:
            typer.echo("--since must be YYYY-MM-DD", err=True)
            raise typer.Exit(2) from None
    settings = process_settings({"db"}, "cli")

    async def main() -> dict[str, int]:
        database = create_database(settings)
        warehouse = create_warehouse(settings, database)
        try:
            total = await count_orders(database, start)
            with typer.progressbar(length=total, label="orders", file=None) as bar:
                return await backfill(
                    database, warehouse, settings.effective_ads_token_secret, start, progress=bar.update
                )
        finally:
            await warehouse.close()
            await database.dispose()

    typer.echo(json.dumps(asyncio.run(main())))
