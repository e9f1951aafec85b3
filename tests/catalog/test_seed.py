"""`packfinderz seed`: the demo marketplace and the COPY-based scale loader."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from packfinderz.catalog.seed import (
    DEMO_PASSWORD,
    SCALE_PASSWORD,
    demo_present,
    scale_email,
    seed_demo,
    seed_scale,
)
from packfinderz.cli import app as cli_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.logging import configure_logging
from tests.fixtures.db import scalar
from tests.fixtures.factories import auth_headers, login


async def test_demo_marketplace(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    logins = await seed_demo(db, settings)
    roles = [login_.role for login_ in logins]
    assert roles.count("admin") == roles.count("agent") == 1
    assert roles.count("vendor") == 6
    assert roles.count("buyer") == 4
    assert await demo_present(db)
    assert await scalar(db, "SELECT count(*) FROM products") == 6 * 24
    assert await scalar(db, "SELECT count(*) FROM inventory_items") == 6 * 24
    assert int(await scalar(db, "SELECT count(*) FROM product_volume_discounts")) > 0
    assert await scalar(db, "SELECT count(DISTINCT address_state) FROM stores") == 2
    assert await scalar(db, "SELECT count(*) FROM stores WHERE kyc_status <> 'verified'") == 0

    denver = await login(client, "denver-green-dispensary@demo.example.com", DEMO_PASSWORD)
    listed = (await client.get("/api/v1/products", params={"limit": 100}, headers=denver.headers)).json()[
        "data"
    ]
    vendors = {item["vendor_store_id"] for item in listed["items"]}
    # Front Range Extracts (Colorado Springs, 40 km radius) does not reach Denver; CA vendors never do.
    expected = await scalar(
        db,
        "SELECT count(*) FROM products p JOIN stores s ON s.id = p.store_id WHERE p.is_active "
        "AND s.company_name IN ('Mile High Growers', 'Boulder Botanicals')",
    )
    assert listed["total"] == expected
    assert len(vendors) == 2
    admin = await login(client, "admin@demo.example.com", DEMO_PASSWORD, admin=True)
    assert admin.body["user"]["system_role"] == "admin"


async def test_scale_load(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    progress: list[int] = []
    logins = await seed_scale(db, settings, products=900, vendors=7, seed=3, progress=progress.append)
    assert sum(progress) == 900
    assert await scalar(db, "SELECT count(*) FROM products") == 900
    assert await scalar(db, "SELECT count(*) FROM inventory_items") == 900
    assert await scalar(db, "SELECT count(*) FROM stores WHERE type = 'vendor'") == 7
    assert await scalar(db, "SELECT count(*) FROM catalog_versions") == 7  # the trigger saw the COPY
    assert await scalar(db, "SELECT count(*) FROM products p JOIN stores s ON s.id = p.store_id "
                            "WHERE s.address_state <> p.vendor_state") == 0  # fmt: skip
    assert {login_.email for login_ in logins} >= {scale_email("buyer", "CA", 3)}
    buyer = await login(client, scale_email("buyer", "CA", 3), SCALE_PASSWORD)
    response = await client.get("/api/v1/products", headers=auth_headers(buyer.access_token))
    assert response.status_code == 200


def test_seed_command_refuses_bad_usage() -> None:
    runner = CliRunner()
    both = runner.invoke(cli_app, ["seed", "--demo", "--scale"])
    assert both.exit_code == 2
    assert "exactly one" in both.output
    neither = runner.invoke(cli_app, ["seed"])
    assert neither.exit_code == 2


def test_seed_demo_command_prints_the_logins(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_connection_url is not None
    env = {
        "PACKFINDERZ_APP_ENV": "test",
        "PACKFINDERZ_DB_DSN": settings.database_url,
        "PACKFINDERZ_REDIS_URL": settings.redis_connection_url,
        "PACKFINDERZ_ARGON_MEMORY_KB": "1024",
        "PACKFINDERZ_ARGON_TIME": "1",
    }
    runner = CliRunner()
    try:
        first = runner.invoke(cli_app, ["seed", "--demo"], env=env)
        again = runner.invoke(cli_app, ["seed", "--demo"], env=env)
    finally:  # the command pointed logging at the runner's (now closed) output
        configure_logging(service="test", env="test", instance="test", level="warning")
    assert first.exit_code == 0, first.output
    assert "demo marketplace seeded" in first.output
    assert "denver-green-dispensary@demo.example.com" in first.output
    assert DEMO_PASSWORD in first.output
    assert again.exit_code == 0
    assert "already present" in again.output
    assert "admin@demo.example.com" in again.output
