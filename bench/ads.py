"""Ads benchmark (issue #14): K buyers serve + report impressions against 1 000 active ads of 200 vendors.

1. An embedded PostgreSQL and Redis in a scratch folder (.packfinderz/bench/ads), migrated.
2. `packfinderz api` starts as in production (APP_ENV=prod: gunicorn, WEB_CONCURRENCY uvicorn workers)
   on a free loopback port. K buyers register through the api; 200 vendor stores (at the buyers'
   address) and 1 000 active ads with one creative each (5 per vendor, hero and store placements,
   CPM bids 10..500 cents, daily budgets holding 5..300 impressions so many run out mid-bench) are
   inserted in SQL. Every vendor is verified, subscribed and statewide, so each passes the gate.
3. Each buyer loops over its own keep-alive connection: GET /api/v1/ads/serve?placement=hero|store,
   then POST /api/v1/ads/impression with the served tokens; both are timed; non-2xx are counted apart.
4. Afterwards every ad's counters are read from Redis: an ad whose spend passed its daily budget, or
   whose spend is not impressions x bid, is an overspend (must be 0; the bench exits 1 otherwise).
5. Prints one JSON line: serve and impression p50/p95/p99 (ms), requests/s, served/empty serves,
   impressions counted, ads exhausted, overspend count, statuses.

Environment: BENCH_BUYERS (32), BENCH_SECONDS (20), BENCH_WORKERS (2 api processes).
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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis

if __package__ in (None, ""):  # run as a file (`make bench`): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    ADDRESS,
    FAST_SIGNUPS,
    Http,
    free_port,
    percentile,
    prod_api_environment,
    report,
    wait_ready,
)
from packfinderz.kit import embedded

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".packfinderz" / "bench" / "ads"
BUYERS = int(os.environ.get("BENCH_BUYERS", "32"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
VENDORS = 200
ADS_PER_VENDOR = 5
PLACEMENTS = ("hero", "store")


def api_environment(db_url: str, redis_url: str, port: int) -> dict[str, str]:
    """Production settings for the api; sign-ups are seeded from one address, so no register limit."""
    return prod_api_environment(
        db_url,
        redis_url,
        port,
        workers=WORKERS,
        data=DATA,
        pool_size=BUYERS // WORKERS + 2,
        extra=FAST_SIGNUPS,
    )


async def call(
    http: Http, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One JSON request; (status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if method == "POST" and path == "/api/v1/auth/register":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    payload = json.dumps(body).encode() if body is not None else b""
    status, raw = await http.request(method, path, headers, payload)
    return status, json.loads(raw) if raw else None


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
    """K buyers through the api; 200 vendors (at the buyers' address) and 1 000 ads in SQL.

    Vendors are not registered through the api: in prod, registration links each vendor to a Square
    customer, and the bench has no Square account.
    """
    buyers = [await register(port, "buyer") for _ in range(BUYERS)]
    await pg.execute(
        """
        INSERT INTO stores (type, company_name, kyc_status, subscription_active, address_line1, address_city,
                            address_state, address_postal_code, address_country, lat, lng, owner_user_id)
        SELECT 'vendor', 'Bench vendor ' || n, 'verified', true, address_line1, address_city, address_state,
               address_postal_code, address_country, lat, lng, owner_user_id
          FROM stores, generate_series(1, $2) AS n WHERE id = $1""",
        uuid.UUID(buyers[0]["store_id"]),
        VENDORS,
    )
    await pg.execute("UPDATE stores SET kyc_status = 'verified', subscription_active = (type = 'vendor')")
    vendors = [r["id"] for r in await pg.fetch("SELECT id FROM stores WHERE type = 'vendor' ORDER BY id")]
    rng = random.Random(14)
    ads = []
    for index, vendor in enumerate(vendors):
        for slot in range(ADS_PER_VENDOR):
            bid = rng.randint(10, 500)
            holds = rng.randint(5, 300)  # impressions the daily budget pays for
            ads.append(
                {
                    "id": uuid.uuid4(),
                    "store_id": vendor,
                    "placement": PLACEMENTS[(index + slot) % 2],
                    "bid_cents": bid,
                    "daily_budget_cents": max(1, holds * bid // 1000),
                }
            )
    await pg.executemany(
        """INSERT INTO ads (id, store_id, status, placement, target_type, target_id, bid_cents,
                            daily_budget_cents)
           VALUES ($1, $2, 'active', $3, 'store', $2, $4, $5)""",
        [(a["id"], a["store_id"], a["placement"], a["bid_cents"], a["daily_budget_cents"]) for a in ads],
    )
    await pg.executemany(
        "INSERT INTO ad_creatives (ad_id, destination_url, headline) VALUES ($1, $2, $3)",
        [(a["id"], f"https://vendor.example.com/{a['id']}", "Bench ad") for a in ads],
    )
    return buyers, ads


async def load(port: int, buyers: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    serve_ms: list[float] = []
    impression_ms: list[float] = []
    statuses: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    connections = [await Http.open(port) for _ in buyers]
    deadline = time.perf_counter() + seconds

    async def loop(http: Http, buyer: dict[str, Any], rng: random.Random) -> None:
        while time.perf_counter() < deadline:
            placement = rng.choice(PLACEMENTS)
            started = time.perf_counter()
            status, body = await call(
                http, "GET", f"/api/v1/ads/serve?placement={placement}", token=buyer["token"]
            )
            serve_ms.append((time.perf_counter() - started) * 1000)
            statuses[f"serve_{status}"] += 1
            served = body.get("data") if status == 200 and body else None
            if served is None:
                outcomes["empty" if status == 200 else "error"] += 1
                continue
            outcomes["filled"] += 1
            started = time.perf_counter()
            status, _ = await call(
                http,
                "POST",
                "/api/v1/ads/impression",
                {"view_token": served["view_token"], "request_id": served["request_id"]},
                buyer["token"],
            )
            impression_ms.append((time.perf_counter() - started) * 1000)
            statuses[f"impression_{status}"] += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(loop(h, b, random.Random(i)) for i, (h, b) in enumerate(zip(connections, buyers, strict=True)))
        )
    finally:
        for http in connections:
            http.close()
    elapsed = time.perf_counter() - started
    return {
        "serve_ms": serve_ms,
        "impression_ms": impression_ms,
        "statuses": statuses,
        "outcomes": outcomes,
        "elapsed": elapsed,
    }


async def audit(redis: Redis, ads: list[dict[str, Any]]) -> dict[str, int]:
    """Impressions counted, ads exhausted, and overspends (spend > budget, or spend ≠ impressions x bid)."""
    day = datetime.now(UTC).strftime("%Y%m%d")
    imps = await redis.mget([f"pf:ads:imps:{a['id']}:{day}" for a in ads])
    spends = await redis.mget([f"pf:ads:spend:{a['id']}:{day}" for a in ads])
    counted = exhausted = overspend = 0
    for ad, imp, spend in zip(ads, imps, spends, strict=True):
        count, millicents = int(imp or 0), int(spend or 0)
        counted += count
        budget = ad["daily_budget_cents"] * 1000
        if millicents > budget or millicents != count * ad["bid_cents"]:
            overspend += 1
        if millicents + ad["bid_cents"] > budget:
            exhausted += 1
    return {"impressions_counted": counted, "ads_exhausted": exhausted, "overspend_count": overspend}


async def main() -> int:
    shutil.rmtree(DATA, ignore_errors=True)
    (DATA / "prom").mkdir(parents=True)
    postgres = embedded.start_postgres(DATA / "pg")
    redis_server = embedded.start_redis(DATA / "redis", persist=False)
    process: subprocess.Popen[bytes] | None = None
    try:
        postgres.create_database("pf_bench_ads", drop=True)
        db_url = postgres.url("pf_bench_ads")
        port = free_port()
        env = api_environment(db_url, redis_server.url(), port)
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
        pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            buyers, ads = await seed(port, pg)
        finally:
            await pg.close()
        result = await load(port, buyers, SECONDS)
        redis = Redis.from_url(redis_server.url())
        try:
            checked = await audit(redis, ads)
        finally:
            await redis.aclose()
        requests = len(result["serve_ms"]) + len(result["impression_ms"])
        statuses = result["statuses"]
        non_2xx = sum(n for key, n in statuses.items() if not key.rsplit("_", 1)[1].startswith("2"))
        report(
            "ads",
            {
                "buyers": BUYERS,
                "api_workers": WORKERS,
                "ads": len(ads),
                "vendors": VENDORS,
                "seconds": SECONDS,
                "serve_p50_ms": round(percentile(result["serve_ms"], 0.50), 1),
                "serve_p95_ms": round(percentile(result["serve_ms"], 0.95), 1),
                "serve_p99_ms": round(percentile(result["serve_ms"], 0.99), 1),
                "impression_p50_ms": round(percentile(result["impression_ms"], 0.50), 1),
                "impression_p95_ms": round(percentile(result["impression_ms"], 0.95), 1),
                "impression_p99_ms": round(percentile(result["impression_ms"], 0.99), 1),
                "requests_per_s": round(requests / result["elapsed"], 1),
                "serves": len(result["serve_ms"]),
                "serves_filled": result["outcomes"]["filled"],
                "serves_empty": result["outcomes"]["empty"],
                "non_2xx": non_2xx,
                "statuses": dict(statuses),
                **checked,
            },
        )
        return 1 if checked["overspend_count"] else 0
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis_server.stop()
        postgres.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
