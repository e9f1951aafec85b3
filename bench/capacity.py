"""Capacity benchmark (issue #21): open-loop search and checkout, the working tree beside the previous main.

1. One embedded Postgres and Redis under BENCH_DATA (shared between checkouts: a 1M catalog is seeded
   once). The search catalog is the one of bench/search.py (BENCH_PRODUCTS, BENCH_VENDORS), plus
   BUYERS_PER_STATE buyers in each of the ten states (at random points of their state).
2. The previous main (BENCH_BASELINE_REF, default 62ab831) is checked out under BENCH_DATA with its own
   venv; its api and the working tree's run side by side (same database, same settings, same secrets,
   each on its own port, APP_ENV=prod: gunicorn with BENCH_WEB_CONCURRENCY uvicorn workers).
3. Search: QUERIES distinct (buyer, query) pairs from the search bench's mix (filters, sorts, text),
   drawn with Zipf weights (rank^-ZIPF_S), so that a cache has to earn its hits. Checkout: one quote
   (POST /cart) + one checkout (POST /checkout) of three lines over 8 hot SKUs, by BENCH_BUYERS buyers.
4. At each offered rate (BENCH_RATES, default 25,50,100,200,400 per second, BENCH_OPEN_SECONDS each),
   the two apis take turns (order alternating per rate). Latency is timed from the scheduled send.
   CPU per request: the /proc CPU time of the api's process tree and of the Postgres tree over the run,
   divided by the answered requests (Postgres is shared, but only one side runs at a time).
5. Capacity = the highest offered rate with p95 <= 100 ms and no error (timeouts included).

Prints the side-by-side tables on stderr and one JSON line per scenario on stdout. Exits 1 when a
correctness figure fails: a 5xx or an unexpected status from the working tree's api, an oversold unit.
BENCH_SHORT=1: rates 25,50,100 for 5 s each (a smoke run).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis

if __package__ in (None, ""):  # run as a file (`make bench`): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import checkout as checkout_bench
from bench import search as search_bench
from bench._common import (
    ADDRESS,
    BENCH_DATA,
    FAST_SIGNUPS,
    ROOT,
    Http,
    free_port,
    prod_api_environment,
    report,
)
from bench._openloop import (
    BASELINE_REF,
    INDEXES_PER_RUN,
    RATES,
    SECONDS,
    SHORT,
    WARM_UP_FIRST_INDEX,
    Api,
    Run,
    baseline_checkout,
    capacity,
    log,
    offered_load,
    postmaster_pid,
    start_api,
    sweep,
    table,
)
from packfinderz.catalog.seed import MEMBERSHIP_COLUMNS, STORE_COLUMNS, _store_row, buyers, scale_email
from packfinderz.config import Settings
from packfinderz.kit import embedded

WORKERS = int(os.environ.get("BENCH_WEB_CONCURRENCY", "2"))
BUYERS_PER_STATE = 5
QUERIES = 4000
ZIPF_S = 1.0
SEED = search_bench.SEED
CHECKOUT_BUYERS = 64
DEFAULT_STOCK = checkout_bench.STOCK
# BENCH_HOT_STOCK=40: a flash sale (each run restocks to 40 units per SKU; most buyers lose, with a 409).
HOT_STOCK = int(os.environ.get("BENCH_HOT_STOCK", str(DEFAULT_STOCK)))


# --- setup ------------------------------------------------------------------------------------------


async def add_buyers(db_url: str) -> list[search_bench.Buyer]:
    """BUYERS_PER_STATE verified buyers per state (the seed's own plus copies of its owner's user row
    at other random points), created once; returns them all."""
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    result = []
    try:
        template = await conn.fetchrow(
            "SELECT password_hash FROM users WHERE email = $1", scale_email("buyer", "CA", SEED)
        )
        for extra in range(BUYERS_PER_STATE):
            seed = SEED if extra == 0 else 1000 + extra
            specs = buyers(seed)
            result += [search_bench.Buyer(s.state, scale_email("buyer", s.state, seed)) for s in specs]
            if extra == 0 or await conn.fetchval(
                "SELECT 1 FROM users WHERE email = $1", scale_email("buyer", specs[0].state, seed)
            ):
                continue
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "users",
                    columns=["id", "email", "password_hash", "first_name", "last_name"],
                    records=[
                        (s.owner_user_id, scale_email("buyer", s.state, seed), template[0], "Buyer", "Owner")
                        for s in specs
                    ],
                )
                await conn.copy_records_to_table(
                    "stores", columns=list(STORE_COLUMNS), records=[_store_row(s, "buyer") for s in specs]
                )
                await conn.copy_records_to_table(
                    "store_memberships",
                    columns=list(MEMBERSHIP_COLUMNS),
                    records=[(s.id, s.owner_user_id, "owner", "active") for s in specs],
                )
    finally:
        await conn.close()
    return result


def shared_environment(db_url: str, redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Production settings for both apis (same secrets: a token signed by one is valid on the other)."""
    # The bench signs in 50 buyers from one address: no login limit.
    extra = {"PACKFINDERZ_AUTH_RATE_LIMIT_LOGIN_WINDOW": "0", **(extra or {})}
    env = prod_api_environment(
        db_url, redis_url, 0, workers=WORKERS, data=BENCH_DATA, pool_size=10, extra=extra
    )
    env["PACKFINDERZ_SQUARE_WEBHOOK_URL"] = "http://127.0.0.1:1/api/v1/webhooks/square"
    return env


async def start_pair(baseline: Path, env: dict[str, str], tag: str) -> list[Api]:
    apis = []
    try:
        for name, checkout in (("previous", baseline), ("current", ROOT)):
            apis.append(
                await start_api(name, checkout, env, free_port(), BENCH_DATA / f"api-{tag}-{name}.log")
            )
    except BaseException:
        for api in apis:
            api.stop()
        raise
    return apis


def zipf_picker(count: int, seed: int) -> list[int]:
    """A long sequence of indexes in [0, count) drawn with weight rank^-ZIPF_S (rank 1 = index 0)."""
    rng = random.Random(seed)
    weights = [1 / (rank**ZIPF_S) for rank in range(1, count + 1)]
    return rng.choices(range(count), weights, k=11 * INDEXES_PER_RUN)


def search_figures(runs: dict[str, list[Run]]) -> dict[str, Any]:
    previous, current = capacity(runs["previous"]), capacity(runs["current"])
    at_50 = next((r for r in runs["current"] if r.rate == 50), None)
    return {
        "capacity_per_s": {"previous": previous, "current": current},
        "capacity_ratio": round(current / previous, 2) if previous else None,
        "runs": {name: [r.summary() for r in rs] for name, rs in runs.items()},
        "targets": {
            "capacity_at_least_2x_previous": bool(previous) and current >= 2 * previous,
            "p95_at_50_per_s_ms": at_50.p(0.95) if at_50 and not at_50.skipped else None,
        },
    }


def wrong_statuses(runs: list[Run]) -> int:
    """5xx and unexpected statuses (timeouts and refused connections are capacity, not correctness)."""
    return sum(n for r in runs for k, n in r.errors.items() if k.isdigit())


# --- search -----------------------------------------------------------------------------------------


async def search_scenario(pg: embedded.EmbeddedPostgres, redis_url: str, baseline: Path) -> dict[str, Any]:
    name = f"pf_bench_{search_bench.PRODUCTS}_{search_bench.VENDORS}"
    db_url = pg.url(name)
    settings = Settings(app_env="dev", db_dsn=db_url, redis_url=redis_url)
    await search_bench.prepare_database(pg, name, settings)
    people = await add_buyers(db_url)
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    apis = await start_pair(baseline, shared_environment(db_url, redis_url), "search")
    try:
        await search_bench.sign_in(apis[1].port, people)
        rng = random.Random(SEED)
        queries = [
            ("/api/v1/products?" + urlencode(search_bench.mix_params(rng)), rng.choice(people).token)
            for _ in range(QUERIES)
        ]
        picks = zipf_picker(len(queries), SEED)

        async def send(http: Http, index: int) -> int:
            target, token = queries[picks[index % len(picks)]]
            status, _ = await http.request("GET", target, {"Authorization": f"Bearer {token}"})
            return status

        def classify(status: int) -> str:
            return "ok" if status == 200 else "error"

        pg_pid = postmaster_pid(pg.folder)
        for api in apis:  # a short warm-up (connections, statement caches), not measured
            await offered_load(
                api.port,
                25,
                3,
                send,
                classify,
                api_pid=api.process.pid,
                pg_pid=pg_pid,
                seed=1,
                first_index=WARM_UP_FIRST_INDEX,
            )
        runs = await sweep(apis, send, classify, pg_pid=pg_pid, seed=SEED)
    finally:
        for api in apis:
            api.stop()
    log("\n" + table(f"search, {search_bench.PRODUCTS} products, open loop, {SECONDS:.0f}s per rate", runs))
    figures = {
        "products": search_bench.PRODUCTS,
        "vendors": search_bench.VENDORS,
        "buyers": len(people),
        "queries": QUERIES,
        "zipf_s": ZIPF_S,
        "rates": RATES,
        "seconds_per_rate": SECONDS,
        "api_workers": WORKERS,
        "baseline_ref": BASELINE_REF,
        **search_figures(runs),
    }
    figures["wrong_statuses"] = wrong_statuses(runs["current"])
    return figures


# --- checkout ---------------------------------------------------------------------------------------


async def checkout_scenario(pg: embedded.EmbeddedPostgres, redis_url: str, baseline: Path) -> dict[str, Any]:
    pg.create_database("pf_bench_open_checkout", drop=True)
    db_url = pg.url("pf_bench_open_checkout")
    env = shared_environment(
        db_url,
        redis_url,
        FAST_SIGNUPS,
    )
    packfinderz = str(Path(sys.executable).parent / "packfinderz")
    migrate = subprocess.run(  # noqa: ASYNC221 - once, before anything runs
        [packfinderz, "migrate", "up"],
        env={k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if migrate.returncode != 0:
        raise SystemExit(migrate.stderr.decode())
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    checkout_bench.STOCK = HOT_STOCK
    checkout_bench.BUYERS = CHECKOUT_BUYERS
    apis = await start_pair(baseline, env, "checkout")
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        people, products = await checkout_bench.seed(apis[1].port, conn)
        carts = [checkout_bench.cart(random.Random(i), products) for i in range(1000)]

        idle = list(range(len(people)))  # a buyer checks out one cart at a time (it has one cart)

        async def send(http: Http, index: int) -> int:
            who = idle.pop(0) if idle else index % len(people)
            try:
                return await quote_and_checkout(http, people[who], carts[index % len(carts)])
            finally:
                idle.append(who)

        async def quote_and_checkout(http: Http, buyer: dict[str, Any], items: list[dict[str, Any]]) -> int:
            status, quoted = await checkout_bench.call(
                http, "POST", "/api/v1/cart", {"items": items}, buyer["token"]
            )
            if status != 200:
                return status
            body = {
                "cart_id": quoted["data"]["id"],
                "shipping_address": ADDRESS,
                "payment_method": "cash",
            }
            status, _ = await checkout_bench.call(http, "POST", "/api/v1/checkout", body, buyer["token"])
            return status

        def classify(status: int) -> str:
            # 409: sold out / admission (timed apart); 200: the buyer's cart was converted by a
            # concurrent request of the same buyer (only when every buyer is busy: past saturation).
            return {201: "ok", 409: "refused", 200: "replayed"}.get(status, "error")

        pg_pid = postmaster_pid(pg.folder)
        for api in apis:
            await offered_load(
                api.port, 10, 2, send, classify, api_pid=api.process.pid, pg_pid=pg_pid, seed=1
            )
        oversold = 0

        async def restock() -> None:
            """A flash sale (BENCH_HOT_STOCK below the default): each run starts with the same stock.
            The run that just ended is checked first; its pending lines are closed (bench data only)."""
            nonlocal oversold
            oversold += await checkout_bench.oversold_units(conn)
            await conn.execute("UPDATE order_line_items SET status = 'rejected' WHERE status = 'pending'")
            await conn.execute("UPDATE inventory_items SET available_qty = $1, reserved_qty = 0", HOT_STOCK)

        flash_sale = HOT_STOCK < DEFAULT_STOCK
        runs = await sweep(
            apis, send, classify, pg_pid=pg_pid, seed=SEED, before_run=restock if flash_sale else None
        )
        oversold += await checkout_bench.oversold_units(conn)
    finally:
        await conn.close()
        for api in apis:
            api.stop()
    log("\n" + table(f"checkout (quote + checkout), 8 hot SKUs, open loop, {SECONDS:.0f}s per rate", runs))
    figures = {
        "buyers": len(people),
        "hot_skus": len(products),
        "hot_stock": HOT_STOCK,
        "rates": RATES,
        "seconds_per_rate": SECONDS,
        "api_workers": WORKERS,
        "baseline_ref": BASELINE_REF,
        **search_figures(runs),
        "oversold_units": oversold,
    }
    at_25 = next((r for r in runs["current"] if r.rate == 25), None)
    figures["targets"].pop("p95_at_50_per_s_ms")
    figures["targets"]["p95_at_25_per_s_ms"] = at_25.p(0.95) if at_25 and not at_25.skipped else None
    figures["wrong_statuses"] = wrong_statuses(runs["current"])
    return figures


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PACKFINDERZ_APP_ENV", "dev")
    search_bench.DATA = BENCH_DATA
    baseline = baseline_checkout(BENCH_DATA)
    pg = search_bench.start_postgres()
    redis_server = embedded.start_redis(BENCH_DATA / f"redis-{secrets.token_hex(3)}", persist=False)
    scenarios = os.environ.get("BENCH_SCENARIOS", "search,checkout").split(",")
    results: dict[str, dict[str, Any]] = {}
    try:
        if "search" in scenarios:
            results["search"] = asyncio.run(search_scenario(pg, redis_server.url(0), baseline))
        if "checkout" in scenarios:
            results["checkout"] = asyncio.run(checkout_scenario(pg, redis_server.url(1), baseline))
    finally:
        redis_server.stop()
        shutil.rmtree(redis_server.folder, ignore_errors=True)
        pg.stop()
    failed = False
    for name, figures in results.items():
        failures = {"wrong_statuses": figures.pop("wrong_statuses")}
        if "oversold_units" in figures:
            failures["oversold_units"] = figures["oversold_units"]
        try:
            report(f"{name}_open_loop", figures | {"short": SHORT}, failures)
        except SystemExit:
            failed = True
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
