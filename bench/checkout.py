"""Checkout benchmark (issue #7): K buyers quote + check out against the real api, then the same SQL raw.

1. An embedded PostgreSQL and Redis in a scratch folder (.packfinderz/bench/checkout), migrated.
2. `packfinderz api` starts as in production (APP_ENV=prod: gunicorn, WEB_CONCURRENCY uvicorn workers)
   on a free loopback port. Vendors with a few hot SKUs (stock large enough never to run out) and K
   verified buyers are seeded through the api.
3. API phase: each buyer loops quote (POST /api/v1/cart) then checkout (POST /api/v1/checkout) over
   its own keep-alive connection; every request is timed.
4. Raw phase: the same quote and checkout transactions issued directly through asyncpg (one connection
   per buyer, no HTTP, no auth, no ORM), at the same concurrency.
   The two phases alternate in BENCH_ROUNDS rounds sharing BENCH_SECONDS each, so that load from other
   processes on the machine (or the host of a virtual one) weighs on both sides alike.
5. Prints one JSON line: checkout p50/p95/p99 (ms), quote p95, checkouts/s, raw checkout transactions/s
   and their p95, the api/raw ratio, and the oversold units found afterwards (must be 0).

Environment: BENCH_BUYERS (32), BENCH_SECONDS (20 per side), BENCH_ROUNDS (4), BENCH_WORKERS (2 api
processes), BENCH_SKUS_PER_VENDOR (2, over 4 vendors).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

if __package__ in (None, ""):  # run as a file (`make bench`): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Http, free_port, percentile, prod_api_environment, report, wait_ready
from packfinderz.kit import embedded

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".packfinderz" / "bench" / "checkout"
BUYERS = int(os.environ.get("BENCH_BUYERS", "32"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
VENDORS = 4
SKUS_PER_VENDOR = int(os.environ.get("BENCH_SKUS_PER_VENDOR", "2"))
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


def api_environment(db_url: str, redis_url: str, port: int) -> dict[str, str]:
    """Production settings for the api; sign-ups are seeded from one address, so no register limit."""
    return prod_api_environment(
        db_url,
        redis_url,
        port,
        workers=WORKERS,
        data=DATA,
        pool_size=BUYERS // WORKERS + 2,
        extra={
            "PACKFINDERZ_AUTH_RATE_LIMIT_REGISTER_WINDOW": "0",
            "PACKFINDERZ_ARGON_MEMORY_KB": "8192",
            "PACKFINDERZ_ARGON_TIME": "1",
        },
    )


async def call(
    http: Http, method: str, path: str, body: Any, token: str | None = None, *, keyed: bool = True
) -> tuple[int, Any]:
    """One JSON request (with a fresh Idempotency-Key unless told otherwise); (status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if keyed:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    status, payload = await http.request(method, path, headers, json.dumps(body).encode())
    return status, json.loads(payload) if payload else None


async def register(port: int, store_type: str) -> dict[str, Any]:
    http = await Http.open(port)
    try:
        status, body = await call(
            http,
            "POST",
            "/api/v1/auth/register",
            {
                "first_name": "Bench",
                "last_name": "User",
                "email": f"{store_type}-{uuid.uuid4().hex[:12]}@bench.example.com",
                "password": "bench password 123",
                "company_name": f"Bench {store_type} {uuid.uuid4().hex[:6]}",
                "store_type": store_type,
                "address": ADDRESS,
                "accept_tos": True,
            },
        )
    finally:
        http.close()
    if status != 201:
        raise SystemExit(f"register failed: {status} {body}")
    return {"store_id": body["data"]["store"]["id"], "token": body["data"]["access_token"]}


async def seed(port: int, pg: asyncpg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Visible vendors with hot SKUs and verified buyers, through the api (flags set in SQL)."""
    vendors = [await register(port, "vendor") for _ in range(VENDORS)]
    buyers = [await register(port, "buyer") for _ in range(BUYERS)]
    await pg.execute("UPDATE stores SET kyc_status = 'verified', subscription_active = (type = 'vendor')")
    products = []
    http = await Http.open(port)
    try:
        for vendor in vendors:
            for index in range(SKUS_PER_VENDOR):
                status, body = await call(
                    http,
                    "POST",
                    "/api/v1/vendor/products",
                    {
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
                    },
                    vendor["token"],
                )
                if status != 201:
                    raise SystemExit(f"product create failed: {status} {body}")
                products.append({"id": body["data"]["id"], "vendor": vendor["store_id"]})
    finally:
        http.close()
    return buyers, products


def cart(rng: random.Random, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three lines of hot SKUs, usually over two vendors."""
    chosen = rng.sample(products, 3)
    return [
        {"product_id": p["id"], "vendor_store_id": p["vendor"], "quantity": rng.randint(1, 4)} for p in chosen
    ]


async def run_for(seconds: float, steps: list[Callable[[], Awaitable[None]]]) -> float:
    """Loop every step until the deadline; returns the elapsed time."""
    deadline = time.perf_counter() + seconds

    async def loop(step: Callable[[], Awaitable[None]]) -> None:
        while time.perf_counter() < deadline:
            await step()

    started = time.perf_counter()
    await asyncio.gather(*(loop(step) for step in steps))
    return time.perf_counter() - started


async def api_phase(
    port: int, buyers: list[dict[str, Any]], products: list[dict[str, Any]], seconds: float, seed: int
) -> dict[str, Any]:
    quote_ms: list[float] = []
    checkout_ms: list[float] = []
    statuses: dict[int, int] = {}
    connections = [await Http.open(port) for _ in buyers]

    def buyer_step(http: Http, buyer: dict[str, Any], rng: random.Random) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            started = time.perf_counter()
            status, quoted = await call(
                http, "POST", "/api/v1/cart", {"items": cart(rng, products)}, buyer["token"]
            )
            quote_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"quote failed: {status} {quoted}")
            body = {"cart_id": quoted["data"]["id"], "shipping_address": ADDRESS, "payment_method": "cash"}
            started = time.perf_counter()
            status, _ = await call(http, "POST", "/api/v1/checkout", body, buyer["token"])
            checkout_ms.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

        return step

    try:
        steps = [
            buyer_step(h, b, random.Random(seed * 10_000 + i))
            for i, (h, b) in enumerate(zip(connections, buyers, strict=True))
        ]
        elapsed = await run_for(seconds, steps)
    finally:
        for http in connections:
            http.close()
    return {"quote_ms": quote_ms, "checkout_ms": checkout_ms, "elapsed": elapsed, "statuses": statuses}


# --- raw phase: the statements the service issues, straight through asyncpg -------------------------

SQL = {
    "products": """
        SELECT p.id, p.store_id, p.title, p.unit, p.moq, p.max_qty, p.price_cents, p.is_active,
               i.available_qty, t.mins, t.percents
          FROM products p
          LEFT JOIN inventory_items i ON i.product_id = p.id
          JOIN LATERAL (SELECT array_agg(min_qty ORDER BY min_qty) AS mins,
                               array_agg(discount_percent ORDER BY min_qty) AS percents
                          FROM product_volume_discounts d WHERE d.product_id = p.id) t ON true
         WHERE p.id = ANY($1::uuid[])""",
    "stores": "SELECT * FROM stores WHERE id = ANY($1::uuid[])",
    "upsert_cart": """
        INSERT INTO cart_records (buyer_store_id, valid_until, shipping_address, subtotal_cents,
                                  discounts_cents, total_cents, ad_tokens)
        VALUES ($1, now() + interval '15 minutes', $2::jsonb, $3, 0, $3, '{}')
        ON CONFLICT (buyer_store_id) WHERE status = 'active'
        DO UPDATE SET valid_until = excluded.valid_until, shipping_address = excluded.shipping_address,
                      subtotal_cents = excluded.subtotal_cents, total_cents = excluded.total_cents,
                      updated_at = now()
        RETURNING *""",
    "clear_items": "DELETE FROM cart_items WHERE cart_id = $1 RETURNING product_id, unit_price_cents",
    "clear_groups": "DELETE FROM cart_vendor_groups WHERE cart_id = $1",
    "insert_items": """
        INSERT INTO cart_items (cart_id, position, product_id, vendor_store_id, vendor_store_name, title,
                                unit, moq, quantity, unit_price_cents, effective_unit_price_cents,
                                line_subtotal_cents, line_discounts_cents, line_total_cents, status)
        SELECT $1, * FROM unnest($2::int[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                                 $8::int[], $9::int[], $10::bigint[], $11::bigint[], $12::bigint[],
                                 $13::bigint[], $14::bigint[], $15::text[])
        RETURNING *""",
    "insert_groups": """
        INSERT INTO cart_vendor_groups (cart_id, vendor_store_id, status, subtotal_cents,
                                        line_discounts_cents, promo_discount_cents, discounts_cents,
                                        total_cents)
        SELECT $1, v, 'ok', 0, 0, 0, 0, 0 FROM unnest($2::uuid[]) AS v
        RETURNING *""",
    "membership": """
        SELECT s.*, m.role FROM stores s JOIN store_memberships m ON m.store_id = s.id
         WHERE m.store_id = $1 AND m.status = 'active' LIMIT 1""",
    "lock_cart": """
        SELECT *, valid_until >= now() AS fresh FROM cart_records
         WHERE id = $1 AND buyer_store_id = $2 FOR UPDATE""",
    "ok_lines": """
        SELECT c.*, p.id AS current_id, p.is_active, p.moq AS current_moq, p.max_qty AS current_max,
               p.title AS current_title, p.sku, p.category, p.strain, p.classification,
               g.warnings AS group_warnings, g.promo
          FROM cart_items c
          LEFT JOIN products p ON p.id = c.product_id
          LEFT JOIN cart_vendor_groups g ON g.cart_id = c.cart_id AND g.vendor_store_id = c.vendor_store_id
         WHERE c.cart_id = $1 AND c.status = 'ok' ORDER BY c.position""",
    "parties": """
        SELECT s.*, (SELECT coalesce(bool_or(l.expiration_date IS NULL OR l.expiration_date > now()), true)
                       FROM licenses l WHERE l.store_id = s.id AND l.status = 'verified') AS licensed
          FROM stores s WHERE s.id = ANY($1::uuid[])""",
    "reserve": """
        WITH locked AS MATERIALIZED (
            SELECT product_id FROM inventory_items WHERE product_id = ANY($1::uuid[])
             ORDER BY product_id FOR UPDATE)
        UPDATE inventory_items i
           SET available_qty = i.available_qty - w.qty, reserved_qty = i.reserved_qty + w.qty,
               updated_at = now()
          FROM locked, unnest($1::uuid[], $2::int[]) AS w(product_id, qty)
         WHERE i.product_id = locked.product_id AND i.product_id = w.product_id
           AND i.available_qty >= w.qty
        RETURNING i.product_id, i.available_qty <= i.low_stock_threshold
                  AND i.available_qty + w.qty > i.low_stock_threshold""",
    "insert_orders": """
        INSERT INTO vendor_orders (id, cart_id, checkout_group_id, buyer_store_id, vendor_store_id,
                                   shipping_address, payment_method, subtotal_cents, discounts_cents,
                                   total_cents, balance_due_cents)
        SELECT o, $2, $3, $4, v, $6::jsonb, 'cash', t, 0, t, t
          FROM unnest($1::uuid[], $5::uuid[], $7::bigint[]) AS x(o, v, t)
        RETURNING *""",
    "insert_lines": """
        INSERT INTO order_line_items (order_id, product_id, cart_item_id, position, name, sku, unit, moq,
                                      unit_price_cents, qty, discount_cents, line_subtotal_cents,
                                      total_cents)
        SELECT o, p, c, n, t, s, u, m, pr, q, 0, tot, tot
          FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[],
                      $7::text[], $8::int[], $9::bigint[], $10::int[], $11::bigint[])
               AS x(o, p, c, n, t, s, u, m, pr, q, tot)""",
    "insert_intents": """
        INSERT INTO payment_intents (order_id, method, status, amount_cents)
        SELECT o, 'cash', 'unpaid', a FROM unnest($1::uuid[], $2::bigint[]) AS x(o, a)""",
    "convert_cart": """
        UPDATE cart_records SET status = 'converted', checkout_group_id = $2, converted_at = now(),
               payment_method = 'cash', shipping_address = $3::jsonb, billing_address = $3::jsonb,
               shipping_line = NULL, tip_cents = 0, updated_at = now()
         WHERE id = $1 RETURNING converted_at""",
    "emit": """
        INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, dedupe_key, payload)
        VALUES ($1, $2, 'checkout_group', $3, $4, $5::jsonb)
        ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, pg_notify('pf_outbox', '')""",
}


async def raw_quote(conn: asyncpg.Connection, buyer_id: uuid.UUID, lines: list[dict[str, Any]]) -> uuid.UUID:
    """The quote transaction: facts, vendors, cart upsert, items and groups replaced."""
    ids = [uuid.UUID(line["product_id"]) for line in lines]
    async with conn.transaction():
        facts = {r["id"]: r for r in await conn.fetch(SQL["products"], ids)}
        vendors = list({facts[i]["store_id"] for i in ids})
        await conn.fetch(SQL["stores"], vendors)
        totals = [facts[i]["price_cents"] * line["quantity"] for i, line in zip(ids, lines, strict=True)]
        cart_row = await conn.fetchrow(SQL["upsert_cart"], buyer_id, json.dumps(ADDRESS), sum(totals))
        cart_id = cart_row["id"]
        await conn.fetch(SQL["clear_items"], cart_id)
        await conn.execute(SQL["clear_groups"], cart_id)
        await conn.fetch(
            SQL["insert_items"],
            cart_id,
            list(range(len(ids))),
            ids,
            [facts[i]["store_id"] for i in ids],
            ["Bench"] * len(ids),
            [facts[i]["title"] for i in ids],
            [facts[i]["unit"] for i in ids],
            [facts[i]["moq"] for i in ids],
            [line["quantity"] for line in lines],
            [facts[i]["price_cents"] for i in ids],
            [facts[i]["price_cents"] for i in ids],
            totals,
            [0] * len(ids),
            totals,
            ["ok"] * len(ids),
        )
        await conn.fetch(SQL["insert_groups"], cart_id, vendors)
    return uuid.UUID(str(cart_id))


async def raw_checkout(conn: asyncpg.Connection, buyer_id: uuid.UUID, cart_id: uuid.UUID) -> None:
    """The checkout transaction, statement for statement and in the service's order (stock last)."""
    async with conn.transaction():
        await conn.fetchrow(SQL["membership"], buyer_id)
        await conn.fetchrow(SQL["lock_cart"], cart_id, buyer_id)
        items = await conn.fetch(SQL["ok_lines"], cart_id)
        vendors = sorted({i["vendor_store_id"] for i in items})
        await conn.fetch(SQL["parties"], [buyer_id, *vendors])
        quantities: dict[uuid.UUID, int] = {}
        for item in items:
            quantities[item["product_id"]] = quantities.get(item["product_id"], 0) + item["quantity"]
        group_id = uuid.uuid4()
        orders = {v: uuid.uuid4() for v in vendors}
        totals = {v: sum(i["line_total_cents"] for i in items if i["vendor_store_id"] == v) for v in vendors}
        async with conn.transaction():  # the savepoint around the orders
            await conn.fetch(
                SQL["insert_orders"],
                [orders[v] for v in vendors],
                cart_id,
                group_id,
                buyer_id,
                vendors,
                json.dumps(ADDRESS),
                [totals[v] for v in vendors],
            )
        await conn.execute(
            SQL["insert_lines"],
            [orders[i["vendor_store_id"]] for i in items],
            [i["product_id"] for i in items],
            [i["id"] for i in items],
            [i["position"] for i in items],
            [i["current_title"] for i in items],
            [i["sku"] for i in items],
            [i["unit"] for i in items],
            [i["moq"] for i in items],
            [i["unit_price_cents"] for i in items],
            [i["quantity"] for i in items],
            [i["line_total_cents"] for i in items],
        )
        await conn.execute(SQL["insert_intents"], [orders[v] for v in vendors], [totals[v] for v in vendors])
        await conn.fetchval(SQL["convert_cart"], cart_id, group_id, json.dumps(ADDRESS))
        payload = json.dumps({"data": {"checkout_group_id": str(group_id)}})
        await conn.fetchrow(
            SQL["emit"], uuid.uuid4(), "order_created", group_id, f"order_created:{group_id}", payload
        )
        key = f"checkout_converted:{group_id}"
        await conn.fetchrow(SQL["emit"], uuid.uuid4(), "checkout_converted", group_id, key, payload)
        ids = sorted(quantities)
        await conn.fetch(SQL["reserve"], ids, [quantities[i] for i in ids])


async def raw_phase(
    dsn: str, buyers: list[dict[str, Any]], products: list[dict[str, Any]], seconds: float, seed: int
) -> dict[str, Any]:
    connections = [await asyncpg.connect(dsn) for _ in buyers]
    checkout_ms: list[float] = []

    def buyer_step(
        conn: asyncpg.Connection, buyer: dict[str, Any], rng: random.Random
    ) -> Callable[[], Awaitable[None]]:
        buyer_id = uuid.UUID(buyer["store_id"])

        async def step() -> None:
            cart_id = await raw_quote(conn, buyer_id, cart(rng, products))
            started = time.perf_counter()
            await raw_checkout(conn, buyer_id, cart_id)
            checkout_ms.append((time.perf_counter() - started) * 1000)

        return step

    try:
        pairs = zip(connections, buyers, strict=True)
        elapsed = await run_for(
            seconds,
            [buyer_step(c, b, random.Random(seed * 10_000 + 1000 + i)) for i, (c, b) in enumerate(pairs)],
        )
    finally:
        for conn in connections:
            await conn.close()
    return {"checkout_ms": checkout_ms, "elapsed": elapsed}


async def oversold_units(pg: asyncpg.Connection) -> int:
    """Units held beyond a SKU's stock, negative stock, or stock created or lost (all must be 0)."""
    rows = await pg.fetch(
        """
        SELECT i.available_qty, i.reserved_qty,
               coalesce(sum(l.qty) FILTER (WHERE l.status = 'pending'), 0) AS held
          FROM inventory_items i LEFT JOIN order_line_items l ON l.product_id = i.product_id
         GROUP BY i.product_id, i.available_qty, i.reserved_qty"""
    )
    units = 0
    for row in rows:
        units += max(0, row["held"] - STOCK) + max(0, -row["available_qty"])
        units += abs(row["available_qty"] + row["reserved_qty"] - STOCK)
    return int(units)


async def main() -> None:
    shutil.rmtree(DATA, ignore_errors=True)
    (DATA / "prom").mkdir(parents=True)
    postgres = embedded.start_postgres(DATA / "pg")
    redis = embedded.start_redis(DATA / "redis", persist=False)
    process: subprocess.Popen[bytes] | None = None
    try:
        postgres.create_database("pf_bench_checkout", drop=True)
        db_url = postgres.url("pf_bench_checkout")
        port = free_port()
        env = api_environment(db_url, redis.url(), port)
        packfinderz = str(Path(sys.executable).parent / "packfinderz")
        migrate = subprocess.run(  # noqa: ASYNC221 - once, before anything runs
            [packfinderz, "migrate", "up"], env=env, cwd=ROOT, capture_output=True, check=False
        )
        if migrate.returncode != 0:
            raise SystemExit(migrate.stderr.decode())
        with (DATA / "api.log").open("wb") as log_file:
            process = subprocess.Popen(  # noqa: ASYNC220 - the server under test, started once
                [packfinderz, "api", "--host", "127.0.0.1"], env=env, cwd=ROOT, stdout=log_file
            )
        await wait_ready(port, lambda: process.poll() is not None, DATA / "api.log")
        dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
        pg = await asyncpg.connect(dsn)
        try:
            buyers, products = await seed(port, pg)
            api: dict[str, Any] = {"quote_ms": [], "checkout_ms": [], "elapsed": 0.0, "statuses": {}}
            raw: dict[str, Any] = {"checkout_ms": [], "elapsed": 0.0}
            for round_ in range(ROUNDS):
                api_round = await api_phase(port, buyers, products, SECONDS / ROUNDS, round_)
                raw_round = await raw_phase(dsn, buyers, products, SECONDS / ROUNDS, round_)
                for name in ("quote_ms", "checkout_ms", "elapsed"):
                    api[name] += api_round[name]
                for status, count in api_round["statuses"].items():
                    api["statuses"][status] = api["statuses"].get(status, 0) + count
                raw["checkout_ms"] += raw_round["checkout_ms"]
                raw["elapsed"] += raw_round["elapsed"]
            oversold = await oversold_units(pg)
        finally:
            await pg.close()
        checkouts = api["statuses"].get(201, 0)
        api_rate = checkouts / api["elapsed"]
        raw_rate = len(raw["checkout_ms"]) / raw["elapsed"]
        report(
            "checkout",
            {
                "buyers": BUYERS,
                "api_workers": WORKERS,
                "hot_skus": VENDORS * SKUS_PER_VENDOR,
                "seconds": SECONDS,
                "rounds": ROUNDS,
                "checkout_p50_ms": round(percentile(api["checkout_ms"], 0.50), 1),
                "checkout_p95_ms": round(percentile(api["checkout_ms"], 0.95), 1),
                "checkout_p99_ms": round(percentile(api["checkout_ms"], 0.99), 1),
                "quote_p95_ms": round(percentile(api["quote_ms"], 0.95), 1),
                "checkouts": checkouts,
                "checkout_statuses": api["statuses"],
                "checkouts_per_s": round(api_rate, 1),
                "raw_tx_per_s": round(raw_rate, 1),
                "raw_checkout_p95_ms": round(percentile(raw["checkout_ms"], 0.95), 1),
                "ratio": round(api_rate / raw_rate, 3) if raw_rate else None,
                "oversold_units": oversold,
            },
        )
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()
        postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
