"""`packfinderz seed --demo | --scale --products N --vendors M` (dev and benchmark data, never prod)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Annotated

import typer

from packfinderz.catalog.seed import Login, demo_logins, demo_present, seed_demo, seed_scale
from packfinderz.config import Settings
from packfinderz.kit.boot import process_settings
from packfinderz.kit.db import create_database


def print_logins(logins: list[Login]) -> None:
    """One line per account: role, email, password and store."""
    typer.echo("\nLogins:")
    for login in logins:
        store = f"  ({login.store})" if login.store else ""
        typer.echo(f"  {login.role:<7} {login.email:<52} {login.password}{store}")


def run_demo(settings: Settings) -> None:
    """Seed the demo marketplace unless it is already there, then print its logins."""

    async def main() -> bool:
        database = create_database(settings)
        try:
            if await demo_present(database):
                return False
            await seed_demo(database, settings)
            return True
        finally:
            await database.dispose()

    seeded = asyncio.run(main())
    typer.echo("demo marketplace seeded" if seeded else "demo marketplace already present")
    print_logins(demo_logins())


def seed(
    demo: Annotated[bool, typer.Option("--demo", help="A small demo marketplace with logins.")] = False,
    scale: Annotated[
        bool, typer.Option("--scale", help="A large synthetic catalog, loaded with COPY.")
    ] = False,
    products: Annotated[int, typer.Option(min=1, help="--scale: number of products.")] = 100_000,
    vendors: Annotated[int, typer.Option(min=1, help="--scale: number of vendor stores.")] = 1_000,
    seed_value: Annotated[
        int | None, typer.Option("--seed", help="--scale: random seed (names the accounts).")
    ] = None,
) -> None:
    """Load demo data (--demo) or a large synthetic catalog (--scale); refused in prod."""
    if demo == scale:
        typer.echo("seed: choose exactly one of --demo or --scale", err=True)
        raise typer.Exit(2)
    settings = process_settings({"db", "app"}, "cli")
    if settings.is_prod:
        typer.echo("seed: refused with APP_ENV=prod", err=True)
        raise typer.Exit(1)
    if demo:
        run_demo(settings)
        return
    value = seed_value if seed_value is not None else random.randint(1, 999_999)
    started = time.monotonic()

    async def main(advance: Callable[[int], None]) -> list[Login]:
        database = create_database(settings)
        try:
            return await seed_scale(
                database, settings, products=products, vendors=vendors, seed=value, progress=advance
            )
        finally:
            await database.dispose()

    with typer.progressbar(length=products, label="products", show_pos=True) as bar:
        logins = asyncio.run(main(bar.update))
    elapsed = time.monotonic() - started
    typer.echo(f"seeded {products} products from {vendors} vendors in {elapsed:.1f}s (seed {value})")
    print_logins(logins)
