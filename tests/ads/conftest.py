"""Ad test helpers: visible vendors with ad media, ads created over HTTP, serving and tracking calls."""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import text

from packfinderz.ads import tokens
from packfinderz.config import Settings
from packfinderz.kit import appstate
from packfinderz.kit.db import Database
from packfinderz.kit.logging import configure_logging
from tests.fixtures.catalog import OKC, create_product, vendor_at
from tests.fixtures.checkout import verified_buyer
from tests.fixtures.db import execute, rows, scalar
from tests.fixtures.factories import Account
from tests.fixtures.logs import LogCapture
from tests.fixtures.processes import free_port

__all__ = ["OKC", "create_product", "execute", "rows", "scalar", "vendor_at", "verified_buyer"]


async def ad_media(
    db: Database, vendor: Account, *, status: str = "uploaded", kind: str = "ads"
) -> uuid.UUID:
    """A media row of the vendor (uploaded `ads` image with a public URL unless told otherwise)."""
    media_id = uuid.uuid4()
    key = f"{vendor.store_id}/{kind}/{media_id}.png"
    await execute(
        db,
        "INSERT INTO media (id, store_id, user_id, kind, status, storage_key, file_name, mime_type, "
        "size_bytes, public_url) VALUES (:id, :s, :u, :k, :st, :key, 'banner.png', 'image/png', 10, :url)",
        id=media_id,
        s=vendor.store_id,
        u=vendor.user_id,
        k=kind,
        st=status,
        key=key,
        url=f"https://cdn.example.com/{key}" if status == "uploaded" else None,
    )
    return media_id


async def serve(client: httpx.AsyncClient, buyer: Account, placement: str = "store") -> dict[str, Any] | None:
    """GET /api/v1/ads/serve; asserts 200 and returns `data` (None when nothing is served)."""
    response = await client.get("/api/v1/ads/serve", params={"placement": placement}, headers=buyer.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] | None = response.json()["data"]
    return data


async def impression(client: httpx.AsyncClient, buyer: Account, served: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/ads/impression",
        json={"view_token": served["view_token"], "request_id": served["request_id"]},
        headers=buyer.headers,
    )


async def click(client: httpx.AsyncClient, buyer: Account, served: dict[str, Any]) -> httpx.Response:
    return await client.get(
        "/api/v1/ads/click",
        params={"token": served["click_token"], "request_id": served["request_id"]},
        headers=buyer.headers,
    )


def today_key() -> str:
    return datetime.now(UTC).strftime("%Y%m%d")


async def counter(redis: Redis, kind: str, ad_id: Any, day: str | None = None) -> int:
    """An ad counter of a UTC day (today unless told): imps, clicks or spend."""
    value = await redis.get(f"pf:ads:{kind}:{ad_id}:{day or today_key()}")
    return int(value) if value is not None else 0


def mint_token(settings: Settings, served: dict[str, Any], buyer_store_id: Any, **overrides: Any) -> str:
    """A token like the served one with some claims changed (signed with the app's secret)."""
    claims = tokens.parse(served["view_token"], settings.effective_ads_token_secret)
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "token_id": uuid.uuid4(),
        "ad_id": claims.ad_id,
        "creative_id": claims.creative_id,
        "placement": claims.placement,
        "target_type": claims.target_type,
        "target_id": claims.target_id,
        "buyer_store_id": buyer_store_id,
        "event_type": "impression",
        "occurred_at": now,
        "expires_at": now + timedelta(days=30),
        "request_id": served["request_id"],
        "bid_cents": claims.bid_cents,
        "destination_url": claims.destination_url,
    }
    payload.update(overrides)
    return tokens.mint(settings.effective_ads_token_secret, payload)


async def set_ad(db: Database, ad_id: Any, **values: Any) -> None:
    """Write ad columns directly (states only the clock or billing reach)."""
    sets = ", ".join(f"{name} = :{name}" for name in values)
    await execute(db, f"UPDATE ads SET {sets} WHERE id = :ad_id", ad_id=uuid.UUID(str(ad_id)), **values)


async def ad_row(db: Database, ad_id: Any) -> dict[str, Any]:
    found = await rows(db, "SELECT * FROM ads WHERE id = :id", id=uuid.UUID(str(ad_id)))
    return found[0]


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A real client for a port nobody listens on."""
    client = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


def break_ads_redis(app: FastAPI, dead: Redis) -> None:
    """Route handlers' Redis (AppRedis) goes to a dead server; auth keeps the real one."""

    async def dead_dependency() -> Redis:
        return dead

    app.dependency_overrides[appstate._redis] = dead_dependency


async def count_rows(db: Database, table: str) -> int:
    return int(await scalar(db, f"SELECT count(*) FROM {table}"))


async def sql(db: Database, statement: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(statement), params)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogCapture]:
    """Every log line (debug and up) of the test, as written by the real pipeline."""
    buffer = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", buffer)
        configure_logging(service="test", env="test", instance="test", level="debug")
    yield LogCapture(buffer)
    configure_logging(service="test", env="test", instance="test", level="warning")
