"""Checkout benchmark (issue #7): K buyers quote + check out against the real api, then the same SQL raw.

1. An embedded PostgreSQL and Redis in a scratch folder (.packfinderz/bench/checkout), migrated.
2. `packfinderz api` starts as in production (APP_ENV=prod: gunicorn, WEB_CONCURRENCY uvicorn workers)
   on a free loopback port. Vendors with a few hot SKUs (stock large enough never to run out) and K
   verified buyers are seeded through the api.
3. API phase: each buyer loops quote (POST /api/v1/cart) then checkout (POST /api/v1/checkout) over
   its own keep-alive connection; every request is timed.
4. Raw phase: the statements the service itself runs. Before the load, one quote and one checkout per
   buyer go through the services in-process (membership check, cart.service.quote,
   checkout.service.checkout, one transaction per request, as the routers run them) and every statement
   is captured with its parameters (as the search bench does). The raw phase replays them through
   asyncpg (one connection per buyer, no HTTP, no auth, no ORM) at the same concurrency, with the ids
   the service minted (cart, lines, orders, events, group) replaced by fresh ones on every replay and
   the captured times moved forward.
   The two phases alternate in BENCH_ROUNDS rounds sharing BENCH_SECONDS each, so that load from other
   processes on the machine (or the host of a virtual one) weighs on both sides alike.
5. Prints one JSON line: checkout p50/p95/p99 (ms), quote p95, checkouts/s, raw checkout transactions/s
   and their p95, the api/raw ratio, and the oversold units found afterwards. Only 201 checkouts (200
   quotes, successful replays) are timed and counted; any oversold unit, non-2xx answer or failed
   replay is reported under `failures` and makes the run exit 1.

Environment: BENCH_BUYERS (32), BENCH_SECONDS (20 per side), BENCH_ROUNDS (4), BENCH_WORKERS (2 api
processes), BENCH_SKUS_PER_VENDOR (2, over 4 vendors).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

if __package__ in (None, ""):  # run as a file (`make bench`): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text

from bench._common import (
    ADDRESS,
    BENCH_DATA,
    FAST_SIGNUPS,
    Http,
    free_port,
    percentile,
    prod_api_environment,
    report,
    wait_ready,
)
from packfinderz.auth.deps import AuthContext, StoreCtx
from packfinderz.cart import service as cart_service
from packfinderz.cart.schemas import CartQuoteIn
from packfinderz.checkout import service as checkout_service
from packfinderz.checkout.schemas import CheckoutIn
from packfinderz.config import Settings
from packfinderz.kit import embedded
from packfinderz.kit.db import create_database
from packfinderz.stores import repository as stores

ROOT = Path(__file__).resolve().parents[1]
DATA = BENCH_DATA / "checkout"
BUYERS = int(os.environ.get("BENCH_BUYERS", "32"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
VENDORS = 4
SKUS_PER_VENDOR = int(os.environ.get("BENCH_SKUS_PER_VENDOR", "2"))
STOCK = 1_000_000_000


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
    quote_errors: dict[int, int] = {}
    connections = [await Http.open(port) for _ in buyers]

    def buyer_step(http: Http, buyer: dict[str, Any], rng: random.Random) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            started = time.perf_counter()
            status, quoted = await call(
                http, "POST", "/api/v1/cart", {"items": cart(rng, products)}, buyer["token"]
            )
            if status != 200:  # counted apart, never timed: a failing api must not look fast
                quote_errors[status] = quote_errors.get(status, 0) + 1
                return
            quote_ms.append((time.perf_counter() - started) * 1000)
            body = {"cart_id": quoted["data"]["id"], "shipping_address": ADDRESS, "payment_method": "cash"}
            started = time.perf_counter()
            status, _ = await call(http, "POST", "/api/v1/checkout", body, buyer["token"])
            if status == 201:
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
    return {
        "quote_ms": quote_ms,
        "checkout_ms": checkout_ms,
        "elapsed": elapsed,
        "statuses": statuses,
        "quote_errors": quote_errors,
    }


# --- raw phase: the statements the service ran, captured in-process and replayed through asyncpg ---

Statement = tuple[str, Any, bool]  # (sql with $n placeholders, parameters, executemany)


@dataclass
class Template:
    """One buyer's quote and checkout requests as the service ran them: membership check + service."""

    buyer_id: uuid.UUID
    quote: list[Statement] = field(default_factory=list)
    checkout: list[Statement] = field(default_factory=list)
    captured_at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def capture_templates(
    db_url: str, redis_url: str, buyers: list[dict[str, Any]], products: list[dict[str, Any]]
) -> tuple[list[Template], set[uuid.UUID]]:
    """Run one quote and one checkout per buyer through the services in-process (as the routers call
    them, membership check first, one transaction per request) and keep every statement with its
    parameters; also the ids that existed before (the rest are minted per request and remapped)."""
    settings = Settings(app_env="dev", db_dsn=db_url, redis_url=redis_url)
    database = create_database(settings)
    captured: list[Statement] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        captured.append((statement, parameters, many))

    templates = []
    try:
        async with database.transaction() as session:
            known = {
                row[0]
                for row in await session.execute(
                    text(
                        "SELECT id FROM stores UNION ALL SELECT id FROM users"
                        " UNION ALL SELECT id FROM products UNION ALL SELECT id FROM store_memberships"
                        " UNION ALL SELECT id FROM product_volume_discounts"
                    )
                )
            }
            users = {
                row.store_id: row.user_id
                for row in await session.execute(text("SELECT store_id, user_id FROM store_memberships"))
            }
        event.listen(database.engine.sync_engine, "before_cursor_execute", record)
        rng = random.Random(7)
        for buyer in buyers:
            store_id = uuid.UUID(buyer["store_id"])
            auth = AuthContext(
                user_id=users[store_id],
                role="owner",
                system_role=None,
                store_id=store_id,
                store_role="owner",
                store_type="buyer",
                jti="bench",
                must_change_password=False,
            )
            template = Template(store_id)
            async with database.transaction() as session:
                captured.clear()
                found = await stores.active_membership(session, auth.user_id, store_id)
                assert found is not None
                ctx = StoreCtx(auth=auth, store=found[0], role=found[1])
                body = CartQuoteIn.model_validate({"items": cart(rng, products)})
                quoted = await cart_service.quote(session, ctx, body, settings.effective_ads_token_secret)
                template.quote = list(captured)
            async with database.transaction() as session:
                captured.clear()
                found = await stores.active_membership(session, auth.user_id, store_id)
                assert found is not None
                ctx = StoreCtx(auth=auth, store=found[0], role=found[1])
                request = CheckoutIn.model_validate(
                    {"cart_id": str(quoted.id), "shipping_address": ADDRESS, "payment_method": "cash"}
                )
                status, _ = await checkout_service.checkout(session, ctx, request, settings)
                if status != 201:
                    raise SystemExit(f"capture: checkout answered {status}")
                template.checkout = list(captured)
            templates.append(template)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
        await database.dispose()
    return templates, known


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Remap:
    """Fresh values for one replay: every id the service minted (not in `known`) gets a new one, the same
    each time it recurs (also inside text such as dedupe keys and JSON payloads); times move forward."""

    def __init__(self, known: set[uuid.UUID], shift: timedelta) -> None:
        self.known, self.shift = known, shift
        self.fresh: dict[uuid.UUID, uuid.UUID] = {}

    def _id(self, value: uuid.UUID) -> uuid.UUID:
        if value in self.known:
            return value
        return self.fresh.setdefault(value, uuid.uuid4())

    def __call__(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return self._id(value)
        if isinstance(value, datetime):
            return value + self.shift
        if isinstance(value, str):
            return _UUID_TEXT.sub(lambda m: str(self._id(uuid.UUID(m.group(0)))), value)
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


async def replay(conn: asyncpg.Connection, statements: list[Statement], remap: Remap) -> None:
    """One request's statements in one transaction, with this replay's values."""
    async with conn.transaction():
        for sql, parameters, many in statements:
            # "insertmanyvalues" batches arrive flagged `many` but already rendered as one statement
            # with one flat parameter tuple; a true executemany carries one tuple per row.
            if many and parameters and isinstance(parameters[0], list | tuple):
                await conn.executemany(sql, [tuple(remap(p)) for p in parameters])
            else:
                await conn.fetch(sql, *remap(tuple(parameters or ())))


async def raw_phase(
    dsn: str, templates: list[Template], known: set[uuid.UUID], seconds: float
) -> dict[str, Any]:
    connections = [await asyncpg.connect(dsn) for _ in templates]
    checkout_ms: list[float] = []
    errors: dict[str, int] = {}

    def buyer_step(conn: asyncpg.Connection, template: Template) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            remap = Remap(known, datetime.now(UTC) - template.captured_at)
            try:
                await replay(conn, template.quote, remap)
                started = time.perf_counter()
                await replay(conn, template.checkout, remap)
            except asyncpg.PostgresError as exc:  # counted apart: a failing replay is not a fast one
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            checkout_ms.append((time.perf_counter() - started) * 1000)

        return step

    try:
        pairs = zip(connections, templates, strict=True)
        elapsed = await run_for(seconds, [buyer_step(c, t) for c, t in pairs])
    finally:
        for conn in connections:
            await conn.close()
    return {"checkout_ms": checkout_ms, "elapsed": elapsed, "errors": errors}


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
            templates, known = await capture_templates(db_url, redis.url(), buyers, products)
            api: dict[str, Any] = {
                "quote_ms": [],
                "checkout_ms": [],
                "elapsed": 0.0,
                "statuses": {},
                "quote_errors": {},
            }
            raw: dict[str, Any] = {"checkout_ms": [], "elapsed": 0.0, "errors": {}}
            for round_ in range(ROUNDS):
                api_round = await api_phase(port, buyers, products, SECONDS / ROUNDS, round_)
                raw_round = await raw_phase(dsn, templates, known, SECONDS / ROUNDS)
                for name in ("quote_ms", "checkout_ms", "elapsed"):
                    api[name] += api_round[name]
                for name in ("statuses", "quote_errors"):
                    for status, count in api_round[name].items():
                        api[name][status] = api[name].get(status, 0) + count
                raw["checkout_ms"] += raw_round["checkout_ms"]
                raw["elapsed"] += raw_round["elapsed"]
                for error, count in raw_round["errors"].items():
                    raw["errors"][error] = raw["errors"].get(error, 0) + count
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
                "quote_errors": api["quote_errors"],
                "raw_errors": raw["errors"],
                "raw_statements": {
                    "quote": len(templates[0].quote),
                    "checkout": len(templates[0].checkout),
                },
            },
            {
                "oversold_units": oversold,
                "checkout_non_201": sum(n for status, n in api["statuses"].items() if status != 201),
                "quote_non_200": sum(api["quote_errors"].values()),
                "raw_replay_errors": sum(raw["errors"].values()),
                # the raw-SQL ratio target of issue #7 (kept by #21)
                "ratio_below_0_15": int(raw_rate == 0 or api_rate / raw_rate < 0.15),
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
