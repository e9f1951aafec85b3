"""`packfinderz smoke` against the real api served by uvicorn on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.smoke import SMOKE_SKU
from tests.fixtures.db import rows
from tests.fixtures.factories import Account, make_vendor_visible, register_store, set_store_kyc
from tests.fixtures.processes import Process, child_env, free_port, run


@pytest.fixture
async def api_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """`packfinderz api` (uvicorn) on the test database and Redis; its base URL."""
    assert settings.db_dsn is not None
    assert settings.redis_url is not None
    port = free_port()
    env = child_env(
        PACKFINDERZ_APP_ENV="test",
        PACKFINDERZ_DB_DSN=settings.db_dsn.get_secret_value(),
        PACKFINDERZ_REDIS_URL=settings.redis_url.get_secret_value(),
        PACKFINDERZ_STORAGE_LOCAL_DIR=str(tmp_path / "storage"),
        PORT=str(port),
    )
    api = Process(["api", "--host", "127.0.0.1"], env)
    try:
        await api.wait_for_line(lambda line: f"Uvicorn running on http://127.0.0.1:{port}" in line)
        yield f"http://127.0.0.1:{port}"
    finally:
        api.kill()


async def smoke_stores(
    client: httpx.AsyncClient, db: Database, *, flagged: bool = True
) -> tuple[Account, Account]:
    """A verified buyer and a visible vendor whose names say they are for smoke tests."""
    prefix = "Smoke Test" if flagged else "Real"
    buyer = await register_store(client, store_type="buyer", company_name=f"{prefix} Buyer")
    vendor = await register_store(client, store_type="vendor", company_name=f"{prefix} Vendor")
    assert buyer.store_id is not None
    assert vendor.store_id is not None
    await set_store_kyc(db, buyer.store_id, "verified")
    await make_vendor_visible(db, vendor.store_id)
    return buyer, vendor


def smoke(
    url: str, buyer: Account, vendor: Account, *args: str, vendor_password: str | None = None
) -> tuple[int, str]:
    env = child_env(
        SMOKE_BUYER_EMAIL=buyer.email,
        SMOKE_BUYER_PASSWORD=buyer.password,
        SMOKE_VENDOR_EMAIL=vendor.email,
        SMOKE_VENDOR_PASSWORD=vendor_password or vendor.password,
    )
    done = run(["smoke", "--base-url", url, *args], env)
    return done.returncode, done.stdout + done.stderr


def table(output: str) -> dict[str, list[str]]:
    """Report rows by step name: [result, http status, latency, detail...]."""
    found = {}
    for line in output.splitlines()[1:]:
        name, rest = line[:16].strip(), line[16:].split()
        found[name] = rest
    return found


STEPS = ["health", "login buyer", "login vendor", "vendor product", "search", "quote", "checkout", "cancel"]


async def test_smoke_walks_the_critical_routes_and_leaves_no_stock_reserved(
    api_url: str, client: httpx.AsyncClient, db: Database
) -> None:
    buyer, vendor = await smoke_stores(client, db)
    code, output = smoke(api_url, buyer, vendor)
    assert code == 0, output
    report = table(output)
    assert list(report) == STEPS
    assert all(cells[0] == "ok" for cells in report.values()), output
    assert report["checkout"][1] == "201"
    assert float(report["health"][2]) >= 0
    assert "created PF-SMOKE-TEST" in output
    assert buyer.password not in output

    [product] = await rows(db, "SELECT id, title FROM products WHERE sku = :sku", sku=SMOKE_SKU)
    assert product["title"].startswith("[SMOKE TEST]")
    [order] = await rows(db, "SELECT id, status FROM vendor_orders")
    assert order["status"] == "canceled"
    [stock] = await rows(
        db, "SELECT available_qty, reserved_qty FROM inventory_items WHERE product_id = :p", p=product["id"]
    )
    assert (stock["available_qty"], stock["reserved_qty"]) == (1000, 0)

    code, output = smoke(api_url, buyer, vendor)  # a second run reuses the product
    assert code == 0, output
    assert "PF-SMOKE-TEST in stock" in output
    assert [o["status"] for o in await rows(db, "SELECT status FROM vendor_orders")] == [
        "canceled",
        "canceled",
    ]


async def test_a_failing_step_or_an_unflagged_store_fails_the_run(
    api_url: str, client: httpx.AsyncClient, db: Database
) -> None:
    buyer, vendor = await smoke_stores(client, db)
    code, output = smoke(api_url, buyer, vendor, vendor_password="wrong password")
    assert code == 1, output
    report = table(output)
    assert report["login vendor"][:2] == ["FAIL", "401"]
    assert [report[s][0] for s in STEPS[3:]] == ["skip"] * 5
    assert await rows(db, "SELECT 1 FROM vendor_orders") == []

    real_buyer, real_vendor = await smoke_stores(client, db, flagged=False)
    code, output = smoke(api_url, real_buyer, vendor)
    assert code == 1, output
    assert "is not flagged as a smoke-test store" in output
    code, output = smoke(api_url, real_buyer, real_vendor, "--allow-unflagged")
    assert code == 0, output


def test_missing_credentials_exit_2() -> None:
    done = run(["smoke", "--base-url", "http://127.0.0.1:9"], child_env())
    assert done.returncode == 2
    assert "SMOKE_BUYER_EMAIL is not set" in done.stderr
