"""Checkout benchmark: K concurrent buyers quote + check out against the real api, then the same SQL raw.

1. Starts an embedded PostgreSQL and Redis in a scratch folder, migrates, and serves the api as in
   production (gunicorn with uvicorn workers, WEB_CONCURRENCY processes) on a loopback port.
2. Seeds vendors with a few hot SKUs (stock large enough never to run out) and K verified buyers.
3. API phase: each buyer loops quote (POST /api/v1/cart) then checkout (POST /api/v1/checkout) for
   BENCH_SECONDS; latencies are taken per request.
4. Raw phase: the equivalent quote and checkout transactions issued directly through asyncpg at the
   same concurrency (no HTTP, no auth, no ORM), for the same duration.
5. Prints one JSON line: checkout p50/p95/p99 (ms), quote p95, checkouts/s, raw transactions/s (raw
   checkouts per second), their ratio, and the oversold units found afterwards (must be 0).

Environment: BENCH_BUYERS (32), BENCH_SECONDS (20), BENCH_WORKERS (2 api processes).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench._common import percentile, report  # noqa: E402
from packfinderz.kit.embedded import start_postgres, start_redis  # noqa: E402

BUYERS = int(os.environ.get("BENCH_BUYERS", "32"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
VENDORS = 4
SKUS_PER_VENDOR = int(os.environ.get("BENCH_SKUS_PER_VENDOR", "2"))  # 8 hot SKUs shared by every buyer
STOCK = 1_000_000_000
ADDRESS = {
    "line1": "100 N Broadway Ave",
    "city": "Oklahoma City",
    "state": "OK",
    "postal_code": "73102",
    "country": "US",
    "lat": 35.4676,
    "lng": -97.5164,
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(db_url: str, redis_url: str, port: int, folder: Path) -> dict[str, str]:
    (folder / "prom").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKFINDERZ_")}
    env.update(
        {
            "PACKFINDERZ_APP_ENV": "dev",
            "PACKFINDERZ_DB_DSN": db_url.replace("postgresql+asyncpg://", "postgresql://"),
            "PACKFINDERZ_REDIS_URL": redis_url,
            "PACKFINDERZ_LOG_LEVEL": "warning",
            "PACKFINDERZ_ARGON_MEMORY_KB": "1024",  # seeding signs up buyers; logins are not measured
            "PACKFINDERZ_ARGON_TIME": "1",
            "PACKFINDERZ_AUTH_RATE_LIMIT_REGISTER_WINDOW": "0",  # every buyer signs up from one address
            "PORT": str(port),
            "WEB_CONCURRENCY": str(WORKERS),
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "prom"),
        }
    )
    return env


def _gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """The production process model: gunicorn with uvicorn workers (as `packfinderz api` in prod)."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
        "--keep-alive",
        "5",
        "--access-logfile",
        "/dev/null",
        "--no-control-socket",
        "packfinderz.app:app_factory()",
    ]
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/health/live")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("api did not start")


async def _register(http: httpx.AsyncClient, store_type: str) -> dict[str, Any]:
    body = {
        "first_name": "Bench",
        "last_name": "User",
        "email": f"{store_type}-{uuid.uuid4().hex[:12]}@bench.example.com",
        "password": "bench password 123",
        "company_name": f"Bench {store_type} {uuid.uuid4().hex[:6]}",
        "store_type": store_type,
        "address": ADDRESS,
        "accept_tos": True,
    }
    response = await http.post("/api/v1/auth/register", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    response.raise_for_status()
    data = response.json()["data"]
    return {"store_id": data["store"]["id"], "headers": {"Authorization": f"Bearer {data['access_token']}"}}


async def _seed(http: httpx.AsyncClient, pg: asyncpg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    vendors = [await _register(http, "vendor") for _ in range(VENDORS)]
    buyers = list(await asyncio.gather(*(_register(http, "buyer") for _ in range(BUYERS))))
    await pg.execute(
        "UPDATE stores SET kyc_status = 'verified', subscription_active = (type = 'vendor')"
    )
    products = []
    for vendor in vendors:
        for index in range(SKUS_PER_VENDOR):
            body = {
                "sku": f"HOT-{uuid.uuid4().hex[:8]}",
                "title": f"Hot SKU {index}",
                "category": "flower",
                "unit": "eighth",
                "feelings": ["happy"],
                "flavors": ["sweet"],
                "usage": ["sleep"],
                "moq": 1,
                "price_cents": 1000 + 250 * index,
                "volume_discounts": [{"min_qty": 3, "discount_percent": 5}],
                "inventory": {"available_qty": STOCK},
            }
            response = await http.post(
                "/api/v1/vendor/products",
                json=body,
                headers={**vendor["headers"], "Idempotency-Key": uuid.uuid4().hex},
            )
            response.raise_for_status()
            products.append({"id": response.json()["data"]["id"], "vendor": vendor["store_id"]})
    return buyers, products


def _cart(rng: random.Random, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three lines over (usually) two vendors, one of them sometimes repeated."""
    chosen = rng.sample(products, 3)
    return [{"product_id": p["id"], "vendor_store_id": p["vendor"], "quantity": rng.randint(1, 4)} for p in chosen]


async def _for(seconds: float, workers: list[Callable[[], Awaitable[None]]]) -> float:
    """Run each worker in a loop until the deadline; returns the elapsed time."""
    deadline = time.perf_counter() + seconds

    async def loop(step: Callable[[], Awaitable[None]]) -> None:
        while time.perf_counter() < deadline:
            await step()

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in workers))
    return time.perf_counter() - started


async def _api_phase(
    http: httpx.AsyncClient, buyers: list[dict[str, Any]], products: list[dict[str, Any]]
) -> dict[str, Any]:
    quote_ms: list[float] = []
    checkout_ms: list[float] = []
    statuses: dict[int, int] = {}

    def buyer_step(buyer: dict[str, Any], rng: random.Random) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            started = time.perf_counter()
            quoted = await http.post(
                "/api/v1/cart",
                json={"items": _cart(rng, products)},
                headers={**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex},
            )
            quote_ms.append((time.perf_counter() - started) * 1000)
            quoted.raise_for_status()
            body = {"cart_id": quoted.json()["data"]["id"], "shipping_address": ADDRESS, "payment_method": "cash"}
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/checkout", json=body, headers={**buyer["headers"], "Idempotency-Key": uuid.uuid4().hex}
            )
            checkout_ms.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        return step

    elapsed = await _for(SECONDS, [buyer_step(b, random.Random(i)) for i, b in enumerate(buyers)])
    return {"quote_ms": quote_ms, "checkout_ms": checkout_ms, "elapsed": elapsed, "statuses": statuses}


# --- raw phase: the same transactions through asyncpg -------------------------------------------------

RAW_QUOTE = [
    "SELECT p.id, p.store_id, p.title, p.unit, p.moq, p.max_qty, p.price_cents, p.is_active, i.available_qty, "
    "(SELECT array_agg(min_qty ORDER BY min_qty) FROM product_volume_discounts d WHERE d.product_id = p.id) "
    "FROM products p LEFT JOIN inventory_items i ON i.product_id = p.id WHERE p.id = ANY($1::uuid[])",
    "SELECT * FROM stores WHERE id = ANY($1::uuid[])",
]


async def _raw_quote(conn: asyncpg.Connection, buyer_id: uuid.UUID, lines: list[dict[str, Any]]) -> uuid.UUID:
    ids = [uuid.UUID(line["product_id"]) for line in lines]
    async with conn.transaction():
        facts = {r["id"]: r for r in await conn.fetch(RAW_QUOTE[0], ids)}
        await conn.fetch(RAW_QUOTE[1], list({facts[i]["store_id"] for i in ids}))
        cart_id = await conn.fetchval(
            "INSERT INTO cart_records (buyer_store_id, valid_until, subtotal_cents, discounts_cents, total_cents) "
            "VALUES ($1, now() + interval '15 minutes', 0, 0, 0) ON CONFLICT (buyer_store_id) "
            "WHERE status = 'active' DO UPDATE SET valid_until = now() + interval '15 minutes', updated_at = now() "
            "RETURNING id",
            buyer_id,
        )
        await conn.fetch("DELETE FROM cart_items WHERE cart_id = $1 RETURNING product_id, unit_price_cents", cart_id)
        await conn.execute("DELETE FROM cart_vendor_groups WHERE cart_id = $1", cart_id)
        rows = []
        for position, line in enumerate(lines):
            fact = facts[uuid.UUID(line["product_id"])]
            total = fact["price_cents"] * line["quantity"]
            rows.append(
                (cart_id, position, fact["id"], fact["store_id"], "Bench", fact["title"], fact["unit"], fact["moq"],
                 line["quantity"], fact["price_cents"], fact["price_cents"], total, 0, total, "ok")
            )  # fmt: skip
        await conn.executemany(
            "INSERT INTO cart_items (cart_id, position, product_id, vendor_store_id, vendor_store_name, title, unit, "
            "moq, quantity, unit_price_cents, effective_unit_price_cents, line_subtotal_cents, line_discounts_cents, "
            "line_total_cents, status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
            rows,
        )
        groups = {(cart_id, r[3]) for r in rows}
        await conn.executemany(
            "INSERT INTO cart_vendor_groups (cart_id, vendor_store_id, status, subtotal_cents, line_discounts_cents, "
            "promo_discount_cents, discounts_cents, total_cents) VALUES ($1, $2, 'ok', 0, 0, 0, 0, 0)",
            list(groups),
        )
    return uuid.UUID(str(cart_id))


async def _raw_checkout(conn: asyncpg.Connection, buyer_id: uuid.UUID, cart_id: uuid.UUID) -> None:
    async with conn.transaction():
        await conn.fetchrow("SELECT * FROM stores WHERE id = $1", buyer_id)  # the request's membership read
        await conn.fetchrow(
            "SELECT *, valid_until >= now() FROM cart_records WHERE id = $1 AND buyer_store_id = $2 FOR UPDATE",
            cart_id,
            buyer_id,
        )
        items = await conn.fetch(
            "SELECT c.*, p.is_active, p.moq AS current_moq, p.sku, g.warnings AS group_warnings FROM cart_items c "
            "LEFT JOIN products p ON p.id = c.product_id LEFT JOIN cart_vendor_groups g ON g.cart_id = c.cart_id "
            "AND g.vendor_store_id = c.vendor_store_id WHERE c.cart_id = $1 AND c.status = 'ok' ORDER BY c.position",
            cart_id,
        )
        vendors = sorted({i["vendor_store_id"] for i in items})
        await conn.fetch(
            "SELECT s.*, (SELECT coalesce(bool_or(l.expiration_date IS NULL OR l.expiration_date > now()), true) "
            "FROM licenses l WHERE l.store_id = s.id AND l.status = 'verified') FROM stores s "
            "WHERE s.id = ANY($1::uuid[])",
            [buyer_id, *vendors],
        )
        quantities: dict[uuid.UUID, int] = {}
        for item in items:
            quantities[item["product_id"]] = quantities.get(item["product_id"], 0) + item["quantity"]
        async with conn.transaction():  # the savepoint
            ids = sorted(quantities)
            await conn.fetch(
                "SELECT product_id FROM inventory_items WHERE product_id = ANY($1::uuid[]) "
                "ORDER BY product_id FOR UPDATE",
                ids,
            )
            for product_id in ids:
                await conn.execute(
                    "UPDATE inventory_items SET available_qty = available_qty - $2, reserved_qty = reserved_qty + $2, "
                    "updated_at = now() WHERE product_id = $1 AND available_qty >= $2",
                    product_id,
                    quantities[product_id],
                )
            group_id = uuid.uuid4()
            orders = {v: uuid.uuid4() for v in vendors}
            totals = {v: sum(i["line_total_cents"] for i in items if i["vendor_store_id"] == v) for v in vendors}
            await conn.fetch(
                "INSERT INTO vendor_orders (id, cart_id, checkout_group_id, buyer_store_id, vendor_store_id, "
                "shipping_address, payment_method, subtotal_cents, discounts_cents, total_cents, balance_due_cents) "
                "SELECT unnest($1::uuid[]), $2, $3, $4, unnest($5::uuid[]), $6::jsonb, 'cash', unnest($7::bigint[]), "
                "0, unnest($7::bigint[]), unnest($7::bigint[]) RETURNING id, order_number, created_at",
                [orders[v] for v in vendors],
                cart_id,
                group_id,
                buyer_id,
                vendors,
                json.dumps(ADDRESS),
                [totals[v] for v in vendors],
            )
            await conn.executemany(
                "INSERT INTO order_line_items (order_id, product_id, cart_item_id, position, name, sku, unit, moq, "
                "unit_price_cents, qty, discount_cents, line_subtotal_cents, total_cents) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11)",
                [
                    (orders[i["vendor_store_id"]], i["product_id"], i["id"], i["position"], i["title"], i["sku"],
                     i["unit"], i["moq"], i["unit_price_cents"], i["quantity"], i["line_total_cents"])
                    for i in items
                ],
            )  # fmt: skip
            await conn.executemany(
                "INSERT INTO payment_intents (order_id, method, status, amount_cents) VALUES ($1, 'cash', 'unpaid', $2)",
                [(orders[v], totals[v]) for v in vendors],
            )
            await conn.execute(
                "UPDATE cart_records SET status = 'converted', checkout_group_id = $2, converted_at = now(), "
                "payment_method = 'cash', shipping_address = $3::jsonb, billing_address = $3::jsonb, "
                "updated_at = now() WHERE id = $1",
                cart_id,
                group_id,
                json.dumps(ADDRESS),
            )
            for event_type in ("order_created", "checkout_converted"):
                await conn.execute(
                    "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, dedupe_key, payload) "
                    "VALUES ($1, $2, 'checkout_group', $3, $4, $5::jsonb) ON CONFLICT (dedupe_key) DO NOTHING",
                    uuid.uuid4(),
                    event_type,
                    group_id,
                    f"{event_type}:{group_id}",
                    json.dumps({"data": {"checkout_group_id": str(group_id)}}),
                )
                await conn.execute("NOTIFY pf_outbox")


async def _raw_phase(dsn: str, buyers: list[dict[str, Any]], products: list[dict[str, Any]]) -> dict[str, Any]:
    connections = [await asyncpg.connect(dsn) for _ in buyers]
    done = 0

    def buyer_step(conn: asyncpg.Connection, buyer: dict[str, Any], rng: random.Random) -> Callable[[], Awaitable[None]]:
        buyer_id = uuid.UUID(buyer["store_id"])

        async def step() -> None:
            nonlocal done
            cart_id = await _raw_quote(conn, buyer_id, _cart(rng, products))
            await _raw_checkout(conn, buyer_id, cart_id)
            done += 1

        return step

    try:
        elapsed = await _for(
            SECONDS,
            [buyer_step(c, b, random.Random(1000 + i)) for i, (c, b) in enumerate(zip(connections, buyers, strict=True))],
        )
    finally:
        for conn in connections:
            await conn.close()
    return {"checkouts": done, "elapsed": elapsed}


async def _oversold(pg: asyncpg.Connection) -> int:
    """Units reserved beyond the stock a SKU ever had, or stock that went negative (must be 0)."""
    rows = await pg.fetch(
        "SELECT i.available_qty, i.reserved_qty, coalesce(sum(l.qty) FILTER (WHERE l.status = 'pending'), 0) AS held "
        "FROM inventory_items i LEFT JOIN order_line_items l ON l.product_id = i.product_id GROUP BY i.product_id"
    )
    oversold = 0
    for row in rows:
        oversold += max(0, row["held"] - STOCK) + max(0, -row["available_qty"])
        oversold += abs(row["available_qty"] + row["reserved_qty"] - STOCK)
    return oversold


async def main() -> None:
    folder = ROOT / ".packfinderz" / "bench" / "checkout"
    shutil.rmtree(folder, ignore_errors=True)
    postgres = start_postgres(folder / "pg")
    redis = start_redis(folder / "redis", persist=False)
    api: subprocess.Popen[bytes] | None = None
    try:
        postgres.create_database("pf_bench_checkout", drop=True)
        db_url = postgres.url("pf_bench_checkout")
        port = _free_port()
        env = _env(db_url, redis.url(), port, folder)
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "packfinderz"), "migrate", "up"], env=env, cwd=ROOT, capture_output=True
        )
        if migrate.returncode != 0:
            raise RuntimeError(migrate.stderr.decode())
        dsn = env["PACKFINDERZ_DB_DSN"]
        api = _gunicorn(env, port)
        limits = httpx.Limits(max_connections=BUYERS + 8, max_keepalive_connections=BUYERS + 8)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as http:
            await _wait_ready(http)
            pg = await asyncpg.connect(dsn)
            try:
                buyers, products = await _seed(http, pg)
                api_run = await _api_phase(http, buyers, products)
                raw_run = await _raw_phase(dsn, buyers, products)
                oversold = await _oversold(pg)
            finally:
                await pg.close()
        checkouts = api_run["statuses"].get(201, 0)
        checkouts_per_s = checkouts / api_run["elapsed"]
        raw_per_s = raw_run["checkouts"] / raw_run["elapsed"]
        report(
            "checkout",
            {
                "buyers": BUYERS,
                "api_workers": WORKERS,
                "seconds": SECONDS,
                "checkout_p50_ms": round(percentile(api_run["checkout_ms"], 0.50), 1),
                "checkout_p95_ms": round(percentile(api_run["checkout_ms"], 0.95), 1),
                "checkout_p99_ms": round(percentile(api_run["checkout_ms"], 0.99), 1),
                "quote_p95_ms": round(percentile(api_run["quote_ms"], 0.95), 1),
                "checkouts": checkouts,
                "checkout_statuses": api_run["statuses"],
                "checkouts_per_s": round(checkouts_per_s, 1),
                "raw_tx_per_s": round(raw_per_s, 1),
                "ratio": round(checkouts_per_s / raw_per_s, 3) if raw_per_s else None,
                "oversold_units": oversold,
            },
        )
    finally:
        if api is not None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=30)
            except subprocess.TimeoutExpired:
                api.kill()
        redis.stop()
        postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
