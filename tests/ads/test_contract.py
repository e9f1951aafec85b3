"""Rules the OpenAPI document states for ads (issue #18), enforced: whole numbers as integers, http(s)
destinations, token and request id shapes, range bounds; each refusal is a 400 that changes nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from packfinderz.ads.schemas import URL_PATTERN, CreativeIn
from packfinderz.kit.db import Database
from tests.ads.conftest import count_rows, counter, serve, vendor_at, verified_buyer
from tests.fixtures.ads import ad_body, create_ad, post_ad


async def test_whole_numbers_are_integers_and_other_numbers_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor, bid_cents=450.0, daily_budget_cents=5000.0)
    assert (ad["bid_cents"], ad["daily_budget_cents"]) == (450, 5000)
    before = await count_rows(db, "ads")
    for value in ("450", 450.5, True, 1e23):
        response = await post_ad(client, vendor, ad_body(vendor, bid_cents=value))
        assert response.status_code == 400, (value, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "bid_cents" in response.json()["error"]["details"], value
    assert await count_rows(db, "ads") == before


async def test_destination_must_be_an_http_url_with_a_host(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    for url in ("https://", "http://", "ftp://vendor.example.com", "https://vendor.example.com/a b"):
        creative = {"destination_url": url}
        response = await post_ad(client, vendor, ad_body(vendor, creatives=[creative]))
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["details"] == {
            "creatives.0.destination_url": "must be an http or https URL"
        }
    assert await count_rows(db, "ads") == 0
    upper = await create_ad(
        client, vendor, creatives=[{"destination_url": "  HTTPS://Vendor.example.com/A  "}]
    )
    assert upper["creatives"][0]["destination_url"] == "https://Vendor.example.com/A"


async def test_tokens_and_request_ids_have_their_shape(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    await create_ad(client, vendor)
    served = await serve(client, buyer)
    assert served is not None
    for body, field in (
        ({"view_token": served["view_token"], "request_id": "req-1"}, "request_id"),
        ({"view_token": served["view_token"], "request_id": served["request_id"].upper()}, "request_id"),
        ({"view_token": "not-a-token", "request_id": served["request_id"]}, "view_token"),
    ):
        response = await client.post("/api/v1/ads/impression", json=body, headers=buyer.headers)
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]["details"], response.text
    click = await client.get(
        "/api/v1/ads/click",
        params={"token": served["click_token"], "request_id": "0"},
        headers=buyer.headers,
    )
    assert click.status_code == 400
    assert "request_id" in click.json()["error"]["details"]
    assert await counter(redis, "imps", served["ad_id"]) == 0
    assert await counter(redis, "clicks", served["ad_id"]) == 0


async def test_detail_range_bounds_are_dates_never_numbers_nor_out_of_range(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor)
    for params, field in (
        ({"from": "0.5", "to": "2026-01-02"}, "from"),
        ({"from": "2026-01-01", "to": "0.5"}, "to"),
        ({"from": "2026-13-01", "to": "2026-12-02"}, "from"),
        ({"from": "2026-01-01T10:00:00", "to": "2026-01-02"}, "from"),  # no offset
        ({"from": "9999-12-30", "to": "9999-12-31"}, "to"),  # the end of 9999-12-31 is no date
        ({"from": "9999-12-31T00:00:00-23:59", "to": "9999-12-31T23:59:59-23:59"}, "to"),
        ({"from": "2026-02-27", "to": "2026-02-30"}, "to"),
    ):
        response = await client.get(f"/api/v1/vendor/ads/{ad['id']}", params=params, headers=vendor.headers)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        details = response.json()["error"]["details"]
        assert details.get("field") == field or field in details, (params, details)


def test_the_schema_pattern_and_the_server_agree_on_blanks() -> None:
    """The pattern lists its blanks, so a JSON Schema validator and the server judge a URL alike."""
    accepted = (
        "http://x",
        "\t HTTPS://a.example\n",
        "\ufeffhttp://a\ufeff",
        "http://a\x1c",
        "https://é.example",
    )
    refused = ("https://", "ftp://x", "https://a b", "https://a\u3000b", "https://a\x85b", "x http://a")
    for url in accepted:
        assert re.fullmatch(URL_PATTERN, url), url
        assert CreativeIn(destination_url=url).destination_url.startswith("http"), url
    for url in refused:
        assert not re.fullmatch(URL_PATTERN, url), url
        with pytest.raises(ValidationError):
            CreativeIn(destination_url=url)
