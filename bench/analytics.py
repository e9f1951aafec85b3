"""Analytics benchmark (issue #15): the dashboards through the real api over a 2-million-row warehouse.

1. A dedicated embedded Postgres (.packfinderz/bench/pg, the search bench's cluster) gets a database
   with BENCH_ANALYTICS_STORES stores (a quarter vendors, each with an owner who can sign in) and
   BENCH_ANALYTICS_ROWS `analytics.marketplace_events` rows over the last 365 days, written with COPY:
   orders with 1-3 items, cash collections, payouts, cancellations and expiries. Reused by later runs.
2. `packfinderz api` starts as in production (gunicorn, BENCH_WEB_CONCURRENCY workers).
3. For 7 d, 90 d and 365 d ranges, the vendor dashboard (`/api/v1/vendor/analytics`, vendor
   perspective) and the marketplace dashboard (`/api/v1/analytics/marketplace` as a buyer) are asked
   BENCH_ANALYTICS_REQUESTS times each, rotating over BENCH_ANALYTICS_ACCOUNTS stores, one request at a
   time (dashboard latency, not throughput), after one warm-up pass.

Prints one JSON line: p50/p95/max per endpoint and range, the rows a store's dashboard reads, and the
goal (365-day vendor dashboard p95 < 150 ms).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis

if __package__ in (None, ""):  # run as a file (`make bench`): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Http, free_port, percentile, prod_api_environment, report, wait_ready
from packfinderz.config import Settings
from packfinderz.kit import embedded, migrations
from packfinderz.kit.security import Passwords

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".packfinderz" / "bench"
ROWS = int(os.environ.get("BENCH_ANALYTICS_ROWS", "2000000"))
STORES = int(os.environ.get("BENCH_ANALYTICS_STORES", "2000"))
REQUESTS = int(os.environ.get("BENCH_ANALYTICS_REQUESTS", "60"))
ACCOUNTS = int(os.environ.get("BENCH_ANALYTICS_ACCOUNTS", "10"))
WORKERS = int(os.environ.get("BENCH_WEB_CONCURRENCY", "2"))
PASSWORD = "packfinderz-analytics-bench"  # noqa: S105 - synthetic accounts of the bench database
SEED = 15
TZ = ZoneInfo("America/Chicago")
CATEGORIES = ("flower", "cart", "pre_roll", "edible", "concentrate")
CLASSIFICATIONS = ("sativa", "hybrid", "indica", "cbd", None)
COLUMNS = (
    "event_id", "event_type", "occurred_at", "checkout_group_id", "order_id", "buyer_store_id",
    "vendor_store_id", "buyer_zip", "buyer_lat", "buyer_lng", "subtotal_cents", "discounts_cents",
    "gross_revenue_cents", "net_revenue_cents", "items",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def email(kind: str, index: int) -> str:
    return f"analytics-{kind}-{index}@bench.example.com"


# --- data ------------------------------------------------------------------------------------------


def store_ids() -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    rng = random.Random(SEED)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(STORES)]
    vendors = STORES // 4
    return ids[:vendors], ids[vendors:]


def event_rows(now: datetime) -> Any:
    """Marketplace rows of a year of orders until ROWS rows: created, then maybe paid or terminated."""
    rng = random.Random(SEED)
    vendors, buyers = store_ids()
    catalog = {
        v: [
            (
                str(uuid.uuid4()),
                f"Product {i} of {str(v)[:8]}",
                rng.choice(CATEGORIES),
                rng.choice(CLASSIFICATIONS),
            )
            for i in range(20)
        ]
        for v in vendors
    }
    zips = {b: f"{73000 + rng.randrange(900)}" for b in buyers}
    year = 365 * 86400
    written = 0
    while written < ROWS:
        vendor, buyer = rng.choice(vendors), rng.choice(buyers)
        placed = now - timedelta(seconds=rng.uniform(0, year))
        order, group = uuid.uuid4(), uuid.uuid4()
        items, subtotal, discounts = [], 0, 0
        for product_id, title, category, classification in rng.sample(catalog[vendor], rng.randint(1, 3)):
            qty, price = rng.randint(1, 20), rng.randrange(500, 5000, 25)
            discount = rng.choice((0, 0, 0, price * qty // 20))
            items.append(
                {
                    "product_id": product_id, "title": title, "category": category,
                    "classification": classification, "qty": qty, "unit_price_cents": price,
                    "line_subtotal_cents": price * qty, "discount_cents": discount,
                    "line_total_cents": price * qty - discount, "status": "pending",
                }
            )  # fmt: skip
            subtotal, discounts = subtotal + price * qty, discounts + discount
        total = subtotal - discounts
        ids = (group, order, buyer, vendor, zips[buyer], 35.4, -97.5)
        yield (
            uuid.uuid4(),
            "order_created",
            placed,
            *ids,
            subtotal,
            discounts,
            total,
            total,
            json.dumps(items),
        )
        written += 1
        roll = rng.random()
        if roll < 0.1:
            kind = "order_canceled" if roll < 0.05 else "order_expired"
            yield (uuid.uuid4(), kind, placed + timedelta(days=rng.uniform(0, 10)), *ids, 0, 0, 0, 0, None)
            written += 1
        elif roll < 0.85:
            collected = placed + timedelta(days=rng.uniform(1, 5))
            yield (uuid.uuid4(), "cash_collected", collected, *ids, 0, 0, total, total, None)
            written += 1
            if rng.random() < 0.8:
                paid = collected + timedelta(days=rng.uniform(1, 7))
                yield (uuid.uuid4(), "order_paid", paid, *ids, 0, 0, total, total, None)
                written += 1


async def seed(dsn: str, settings: Settings) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetchval("SELECT count(*) FROM analytics.marketplace_events")
        stores = await connection.fetchval("SELECT count(*) FROM stores")
        if rows == ROWS and stores == STORES:
            log(f"reusing the seeded warehouse ({ROWS} rows, {STORES} stores)")
            return
        await connection.execute(
            "TRUNCATE analytics.marketplace_events, analytics.ad_events, store_memberships, stores, users "
            "CASCADE"
        )
        vendors, buyers = store_ids()
        password_hash = await Passwords(settings).hash(PASSWORD)
        now = datetime.now(UTC)
        people, stores_rows, members = [], [], []
        for kind, ids in (("vendor", vendors), ("buyer", buyers)):
            for index, store in enumerate(ids):
                owner = uuid.uuid5(store, "owner")
                people.append((owner, email(kind, index), password_hash, "Bench", "Owner", now))
                stores_rows.append(
                    (store, kind, f"{kind} {index}", "verified", kind == "vendor", "1 Main St", "Tulsa", "OK",
                     "74103", 36.15, -95.99, owner)
                )  # fmt: skip
                members.append((store, owner, "owner", "active"))
        await connection.copy_records_to_table(
            "users",
            records=people,
            columns=["id", "email", "password_hash", "first_name", "last_name", "password_changed_at"],
        )
        await connection.copy_records_to_table(
            "stores",
            records=stores_rows,
            columns=["id", "type", "company_name", "kyc_status", "subscription_active", "address_line1",
                     "address_city", "address_state", "address_postal_code", "lat", "lng", "owner_user_id"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "store_memberships", records=members, columns=["store_id", "user_id", "role", "status"]
        )
        log(f"writing {ROWS} warehouse rows with COPY")
        started = time.monotonic()
        batch: list[Any] = []
        for row in event_rows(now):
            batch.append(row)
            if len(batch) >= 50_000:
                await connection.copy_records_to_table(
                    "marketplace_events", schema_name="analytics", records=batch, columns=list(COLUMNS)
                )
                batch = []
        if batch:
            await connection.copy_records_to_table(
                "marketplace_events", schema_name="analytics", records=batch, columns=list(COLUMNS)
            )
        await connection.execute("ANALYZE analytics.marketplace_events")
        await connection.execute("ANALYZE stores")
        log(f"seeded in {time.monotonic() - started:.1f}s")
    finally:
        await connection.close()


# --- measuring -------------------------------------------------------------------------------------


async def sign_in(port: int, kind: str, count: int) -> list[str]:
    http = await Http.open(port)
    tokens = []
    try:
        for index in range(count):
            body = json.dumps({"email": email(kind, index), "password": PASSWORD}).encode()
            status, payload = await http.request(
                "POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, body
            )
            if status != 200:
                raise SystemExit(f"login failed for {email(kind, index)}: {status} {payload[:200]!r}")
            tokens.append(json.loads(payload)["data"]["access_token"])
    finally:
        http.close()
    return tokens


def ranges() -> dict[str, dict[str, str]]:
    today = datetime.now(TZ).date()
    return {
        "7d": {"preset": "7d"},
        "90d": {"preset": "90d"},
        "365d": {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()},
    }


async def measure(port: int, path: str, tokens: list[str], params: dict[str, str], count: int) -> list[float]:
    http = await Http.open(port)
    samples = []
    try:
        for index in range(count):
            headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
            started = time.perf_counter()
            status, payload = await http.request("GET", f"{path}?{urlencode(params)}", headers)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                raise SystemExit(f"{path} {params}: {status} {payload[:300]!r}")
            samples.append(elapsed)
    finally:
        http.close()
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.5), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "n": len(samples),
    }


async def run(pg: embedded.EmbeddedPostgres, redis_url: str) -> dict[str, Any]:
    name = "pf_bench_analytics"
    db_url = pg.url(name)
    settings = Settings(app_env="dev", db_dsn=db_url, redis_url=redis_url)
    pg.create_database(name)
    await asyncio.to_thread(migrations.upgrade, db_url, "head")
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    await seed(dsn, settings)
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    connection = await asyncpg.connect(dsn)
    vendors, buyers = store_ids()
    per_vendor = await connection.fetchval(
        "SELECT count(*) FROM analytics.marketplace_events WHERE vendor_store_id = $1", vendors[0]
    )
    per_buyer = await connection.fetchval(
        "SELECT count(*) FROM analytics.marketplace_events WHERE buyer_store_id = $1", buyers[0]
    )
    await connection.close()

    port = free_port()
    shutil.rmtree(DATA / "prom", ignore_errors=True)
    (DATA / "prom").mkdir()
    log_file = (DATA / "api-analytics.log").open("wb")
    env = prod_api_environment(db_url, redis_url, port, workers=WORKERS, data=DATA, pool_size=4)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "packfinderz.cli", "api", "--host", "127.0.0.1",
        env=env, stdout=log_file, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    figures: dict[str, Any] = {}
    try:
        await wait_ready(port, lambda: process.returncode is not None, DATA / "api-analytics.log")
        vendor_tokens = await sign_in(port, "vendor", ACCOUNTS)
        buyer_tokens = await sign_in(port, "buyer", ACCOUNTS)
        load_before = os.getloadavg()[0]
        for label, params in ranges().items():
            for endpoint, path, tokens in (
                ("vendor", "/api/v1/vendor/analytics", vendor_tokens),
                ("marketplace_buyer", "/api/v1/analytics/marketplace", buyer_tokens),
            ):
                await measure(port, path, tokens, params, len(tokens))  # warm-up
                samples = await measure(port, path, tokens, params, REQUESTS)
                figures.setdefault(endpoint, {})[label] = summary(samples)
                log(f"{endpoint} {label}: {figures[endpoint][label]}")
        load_after = os.getloadavg()[0]
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
        log_file.close()
    p95 = figures["vendor"]["365d"]["p95_ms"]
    return {
        "rows": ROWS,
        "stores": STORES,
        "rows_of_one_vendor": per_vendor,
        "rows_of_one_buyer": per_buyer,
        "api_workers": WORKERS,
        "requests_per_case": REQUESTS,
        "load_average_1m": {
            "before": round(load_before, 2),
            "after": round(load_after, 2),
            "cores": os.cpu_count(),
        },
        **figures,
        "goal": {"vendor_365d_p95_ms_below": 150, "met": p95 < 150},
    }


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PACKFINDERZ_APP_ENV", "dev")
    pg = embedded.start_postgres(DATA / "pg")
    redis_server = embedded.start_redis(DATA / "redis-analytics", persist=False)
    try:
        figures = asyncio.run(run(pg, redis_server.url(0)))
    finally:
        redis_server.stop()
        pg.stop()
    report("analytics", figures)


if __name__ == "__main__":
    main()
