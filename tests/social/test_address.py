"""Address lookup (identity.md §15): the `none` adapter, and `google` against our fake Places API (New)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from packfinderz.config import Settings
from tests.fixtures.apps import serve
from tests.social.conftest import error_of
from tests.social.places_fake import API_KEY, FakePlaces, RunningFake

SUGGEST = "/api/v1/address/suggest"
RESOLVE = "/api/v1/address/resolve"


@pytest.fixture
def places() -> Iterator[FakePlaces]:
    running = RunningFake()
    yield running.start()
    running.stop()


def google_settings(app_settings: Settings, places: FakePlaces, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "maps_provider": "google",
        "google_maps_api_key": SecretStr(API_KEY),
        "google_places_base_url": places.base_url,
        "maps_timeout": 1.0,
        **overrides,
    }
    return app_settings.model_copy(update=values)


@pytest.fixture
async def google(app_settings: Settings, places: FakePlaces) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(google_settings(app_settings, places)) as http:
        yield http


async def resolve(client: httpx.AsyncClient, place_id: str) -> httpx.Response:
    return await client.post(RESOLVE, json={"place_id": place_id})


def unavailable(response: httpx.Response, message: str = "dependency unavailable") -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": {"code": "DEPENDENCY_ERROR", "message": message, "details": {"dependency": "maps"}}
    }


async def test_none_adapter_answers_503_on_both_endpoints(client: httpx.AsyncClient) -> None:
    unavailable(await client.get(SUGGEST, params={"query": "100 N Broadway"}))
    unavailable(await resolve(client, "ChIJsuite100OKC"))


async def test_input_is_validated_before_any_provider_call(client: httpx.AsyncClient) -> None:
    """No token needed (public routes); bad input is 400 whichever adapter runs."""
    for params, field in (
        ({}, "query"),
        ({"query": "   "}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x" * 201}, "query"),
        ({"query": "main", "country": "USA"}, "country"),
        ({"query": "main", "language": "e"}, "language"),
    ):
        response = await client.get(SUGGEST, params=params)
        assert response.status_code == 400, params
        assert field in error_of(response)["details"], response.text
    for body, field in (
        ({}, "place_id"),
        ({"place_id": ""}, "place_id"),
        ({"place_id": "../../secrets"}, "place_id"),
        ({"place_id": 12}, "place_id"),
        ({"place_id": "ChIJ", "extra": True}, "extra"),
    ):
        response = await client.post(RESOLVE, json=body)
        assert response.status_code == 400, body
        assert field in error_of(response)["details"], response.text


async def test_suggest_sends_the_key_region_and_language_and_keeps_place_predictions(
    google: httpx.AsyncClient, places: FakePlaces
) -> None:
    response = await google.get(
        SUGGEST, params={"query": "  oklahoma city ", "country": "us", "language": "en"}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["next_cursor"] is None
    assert "total" not in data
    ids = [item["place_id"] for item in data["items"]]
    assert "ChIJsuite100OKC" in ids
    assert "ChIJpostalTownGB" not in ids  # filtered by the region code
    assert data["items"][0] == {
        "place_id": "ChIJsuite100OKC",
        "description": "100 N Broadway Ave Suite 200, Oklahoma City, OK 73102, USA",
    }
    [sent] = places.requests
    assert sent["method"] == "POST"
    assert sent["path"] == "/v1/places:autocomplete"
    assert sent["headers"]["x-goog-api-key"] == API_KEY
    assert sent["body"] == {"input": "oklahoma city", "includedRegionCodes": ["US"], "languageCode": "en"}


async def test_suggest_without_matches_is_an_empty_page(
    google: httpx.AsyncClient, places: FakePlaces
) -> None:
    response = await google.get(SUGGEST, params={"query": "nowhere at all"})
    assert response.status_code == 200
    assert response.json() == {"data": {"items": [], "next_cursor": None}}
    assert "includedRegionCodes" not in places.requests[0]["body"]


@pytest.mark.parametrize(
    ("place_id", "expected"),
    [
        (
            "ChIJsuite100OKC",
            {
                "line1": "100 North Broadway Avenue",
                "line2": "Suite 200",
                "city": "Oklahoma City",
                "state": "OK",
                "postal_code": "73102",
                "country": "US",
                "lat": 35.4676,
                "lng": -97.5164,
            },
        ),
        (
            "ChIJrouteOnlyOKC",
            {
                "line1": "Northwest Expressway",
                "line2": None,
                "city": "Oklahoma City",
                "state": "OK",
                "postal_code": "73118",
                "country": "US",
                "lat": 35.5371,
                "lng": -97.5659,
            },
        ),
        (
            "ChIJpostalTownGB",
            {
                "line1": "10 Downing Street",
                "line2": None,
                "city": "London",
                "state": "ENGLAND",
                "postal_code": "SW1A 2AA",
                "country": "GB",
                "lat": 51.5033635,
                "lng": -0.1276248,
            },
        ),
        (
            "ChIJcountyOnlyOK",
            {
                "line1": "21000 County Road 1250",
                "line2": None,
                "city": "Garvin County",
                "state": "OK",
                "postal_code": "73075",
                "country": "US",
                "lat": 34.7645,
                "lng": -97.2353,
            },
        ),
        (
            "ChIJpremiseOKC",
            {
                "line1": "Bricktown Ballpark",
                "line2": None,
                "city": "Oklahoma City",
                "state": "OK",
                "postal_code": "73104",
                "country": "US",
                "lat": 35.4651,
                "lng": -97.5079,
            },
        ),
    ],
)
async def test_resolve_maps_the_place_to_a_store_address(
    google: httpx.AsyncClient, places: FakePlaces, place_id: str, expected: dict[str, Any]
) -> None:
    response = await resolve(google, place_id)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": expected}
    [sent] = places.requests
    assert (sent["method"], sent["path"]) == ("GET", f"/v1/places/{place_id}")
    assert sent["headers"]["x-goog-api-key"] == API_KEY
    assert set(sent["headers"]["x-goog-fieldmask"].split(",")) == {
        "addressComponents",
        "formattedAddress",
        "location",
    }


@pytest.mark.parametrize(
    ("place_id", "message"),
    [
        ("ChIJnoLocation", "place has no location"),
        ("ChIJnoStreet", "place has no street address"),
        ("ChIJnoCity", "place has no city"),
        ("ChIJnoState", "place has no state"),
        ("ChIJnoPostal", "place has no postal code"),
    ],
)
async def test_resolve_names_the_missing_part(google: httpx.AsyncClient, place_id: str, message: str) -> None:
    unavailable(await resolve(google, place_id), message)


async def test_an_unknown_place_is_404(google: httpx.AsyncClient) -> None:
    response = await resolve(google, "ChIJdoesNotExist")
    assert response.status_code == 404
    assert error_of(response)["message"] == "place not found"


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_provider_errors_are_503(google: httpx.AsyncClient, places: FakePlaces, mode: str) -> None:
    places.mode = mode
    unavailable(await google.get(SUGGEST, params={"query": "oklahoma"}))
    if mode == "error":
        unavailable(await resolve(google, "ChIJsuite100OKC"))


async def test_a_rejected_key_is_503(app_settings: Settings, places: FakePlaces) -> None:
    async with serve(google_settings(app_settings, places, google_maps_api_key=SecretStr("wrong"))) as http:
        unavailable(await http.get(SUGGEST, params={"query": "oklahoma"}))
        unavailable(await resolve(http, "ChIJsuite100OKC"))


async def test_a_provider_timeout_is_503(app_settings: Settings, places: FakePlaces) -> None:
    places.mode, places.stall_seconds = "stall", 2.0
    async with serve(google_settings(app_settings, places, maps_timeout=0.2)) as http:
        unavailable(await http.get(SUGGEST, params={"query": "oklahoma"}), "maps provider timed out")
        unavailable(await resolve(http, "ChIJsuite100OKC"), "maps provider timed out")


async def test_an_unreachable_provider_is_503(app_settings: Settings) -> None:
    closed = FakePlaces(base_url="http://127.0.0.1:9/v1")
    async with serve(google_settings(app_settings, closed)) as http:
        unavailable(await http.get(SUGGEST, params={"query": "oklahoma"}))


def test_the_default_timeout_is_ten_seconds() -> None:
    assert Settings.model_fields["maps_timeout"].default == 10.0
    assert Settings.model_fields["google_places_base_url"].default == "https://places.googleapis.com/v1"
