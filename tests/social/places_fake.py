"""A fake Places API (New) server of our own, speaking its real request and response shapes over HTTP.

The `google` maps adapter talks to it through `PACKFINDERZ_GOOGLE_PLACES_BASE_URL`. It checks what
Google checks (API key header, field mask on details), answers `places:autocomplete` with
`placePrediction` and `queryPrediction` suggestions and `GET places/{id}` with `addressComponents`
(`longText`, `shortText`, `types`, `languageCode`), `formattedAddress` and `location`, and errors in
Google's envelope `{"error": {"code", "message", "status"}}`. Tests set `mode` to make it fail or stall.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "fake-places-key"


def component(long_text: str, short_text: str, *types: str) -> dict[str, Any]:
    return {"longText": long_text, "shortText": short_text, "types": list(types), "languageCode": "en"}


def _us(**overrides: Any) -> list[dict[str, Any]]:
    parts = {
        "locality": component("Oklahoma City", "Oklahoma City", "locality", "political"),
        "county": component("Oklahoma County", "Oklahoma County", "administrative_area_level_2", "political"),
        "state": component("Oklahoma", "OK", "administrative_area_level_1", "political"),
        "country": component("United States", "US", "country", "political"),
        "postal_code": component("73102", "73102", "postal_code"),
    }
    parts.update(overrides)
    return [value for value in parts.values() if value is not None]


# Places keyed by id, shaped like Place Details (New) answers for the field mask the adapter sends.
PLACES: dict[str, dict[str, Any]] = {
    # Street number + route + subpremise.
    "ChIJsuite100OKC": {
        "formattedAddress": "100 N Broadway Ave Suite 200, Oklahoma City, OK 73102, USA",
        "addressComponents": [
            component("Suite 200", "Suite 200", "subpremise"),
            component("100", "100", "street_number"),
            component("North Broadway Avenue", "N Broadway Ave", "route"),
            *_us(),
            component("1234", "1234", "postal_code_suffix"),
        ],
        "location": {"latitude": 35.4676, "longitude": -97.5164},
    },
    # Route only (no street number).
    "ChIJrouteOnlyOKC": {
        "formattedAddress": "NW Expressway, Oklahoma City, OK 73118, USA",
        "addressComponents": [
            component("Northwest Expressway", "NW Expy", "route"),
            *_us(postal_code=component("73118", "73118", "postal_code")),
        ],
        "location": {"latitude": 35.5371, "longitude": -97.5659},
    },
    # UK address: no locality, city from postal_town.
    "ChIJpostalTownGB": {
        "formattedAddress": "10 Downing St, London SW1A 2AA, UK",
        "addressComponents": [
            component("10", "10", "street_number"),
            component("Downing Street", "Downing St", "route"),
            component("London", "London", "postal_town"),
            component("Greater London", "Greater London", "administrative_area_level_2", "political"),
            component("England", "England", "administrative_area_level_1", "political"),
            component("United Kingdom", "GB", "country", "political"),
            component("SW1A 2AA", "SW1A 2AA", "postal_code"),
        ],
        "location": {"latitude": 51.5033635, "longitude": -0.1276248},
    },
    # A rural address: no locality or postal town, city from the county; no country component.
    "ChIJcountyOnlyOK": {
        "formattedAddress": "21000 County Rd 1250, OK 73075, USA",
        "addressComponents": [
            component("21000", "21000", "street_number"),
            component("County Road 1250", "Co Rd 1250", "route"),
            component("Garvin County", "Garvin County", "administrative_area_level_2", "political"),
            component("Oklahoma", "OK", "administrative_area_level_1", "political"),
            component("73075", "73075", "postal_code"),
        ],
        "location": {"latitude": 34.7645, "longitude": -97.2353},
    },
    # A premise without street parts: line1 from the first segment of the formatted address.
    "ChIJpremiseOKC": {
        "formattedAddress": "Bricktown Ballpark, 2 S Mickey Mantle Dr, Oklahoma City, OK 73104, USA",
        "addressComponents": [
            component("Bricktown Ballpark", "Bricktown Ballpark", "premise"),
            *_us(postal_code=component("73104", "73104", "postal_code")),
        ],
        "location": {"latitude": 35.4651, "longitude": -97.5079},
    },
    "ChIJnoLocation": {
        "formattedAddress": "100 N Broadway Ave, Oklahoma City, OK 73102, USA",
        "addressComponents": [component("100", "100", "street_number"), *_us()],
    },
    "ChIJnoStreet": {
        "addressComponents": _us(),
        "location": {"latitude": 35.4676, "longitude": -97.5164},
    },
    "ChIJnoCity": {
        "formattedAddress": "1 Main St, OK 73102, USA",
        "addressComponents": [component("1 Main St", "1 Main St", "route"), *_us(locality=None, county=None)],
        "location": {"latitude": 35.4676, "longitude": -97.5164},
    },
    "ChIJnoState": {
        "formattedAddress": "1 Main St, Oklahoma City 73102, USA",
        "addressComponents": [component("Main Street", "Main St", "route"), *_us(state=None)],
        "location": {"latitude": 35.4676, "longitude": -97.5164},
    },
    "ChIJnoPostal": {
        "formattedAddress": "1 Main St, Oklahoma City, OK, USA",
        "addressComponents": [component("Main Street", "Main St", "route"), *_us(postal_code=None)],
        "location": {"latitude": 35.4676, "longitude": -97.5164},
    },
}


def _error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


@dataclass
class FakePlaces:
    """The running fake: its base URL, the requests it received, and a failure mode tests may set."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"  # ok | error (500) | stall (answers after `stall_seconds`) | garbage (not JSON)
    stall_seconds: float = 3.0

    async def _guard(self, request: Request) -> JSONResponse | None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.json() if request.method == "POST" else None,
            }
        )
        if request.headers.get("x-goog-api-key") != API_KEY:
            return _error(403, "PERMISSION_DENIED", "The provided API key is invalid.")
        if self.mode == "error":
            return _error(500, "INTERNAL", "Internal error encountered.")
        if self.mode == "stall":
            await asyncio.sleep(self.stall_seconds)
        return None

    async def autocomplete(self, request: Request) -> Any:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        if self.mode == "garbage":
            return JSONResponse([1, 2, 3])
        body = self.requests[-1]["body"] or {}
        text = str(body.get("input", "")).lower()
        if not text:
            return _error(400, "INVALID_ARGUMENT", "Invalid 'input': must not be empty.")
        regions = [str(r).upper() for r in body.get("includedRegionCodes", [])]
        suggestions: list[dict[str, Any]] = [
            {"queryPrediction": {"text": {"text": f"{text} near me", "matches": [{"endOffset": len(text)}]}}}
        ]
        for place_id, place in PLACES.items():
            formatted = str(place.get("formattedAddress", ""))
            country = next(
                (c["shortText"] for c in place["addressComponents"] if "country" in c["types"]), "US"
            )
            if text in formatted.lower() and (not regions or country in regions):
                suggestions.append(
                    {
                        "placePrediction": {
                            "place": f"places/{place_id}",
                            "placeId": place_id,
                            "text": {"text": formatted, "matches": [{"endOffset": len(text)}]},
                            "structuredFormat": {
                                "mainText": {"text": formatted.split(",", maxsplit=1)[0]},
                                "secondaryText": {"text": ",".join(formatted.split(",")[1:]).strip()},
                            },
                            "types": ["street_address", "geocode"],
                        }
                    }
                )
        return JSONResponse({"suggestions": suggestions} if len(suggestions) > 1 else {})

    async def details(self, request: Request) -> Any:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        if not request.headers.get("x-goog-fieldmask"):
            return _error(400, "INVALID_ARGUMENT", "FieldMask is a required parameter.")
        place_id = request.path_params["place_id"]
        place = PLACES.get(place_id)
        if place is None:
            return _error(404, "NOT_FOUND", f"Place '{place_id}' not found.")
        return JSONResponse({"id": place_id, **place})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/places:autocomplete", self.autocomplete, methods=["POST"]),
                Route("/v1/places/{place_id}", self.details, methods=["GET"]),
            ]
        )


class RunningFake:
    """FakePlaces served by uvicorn on a free local port in a background thread."""

    def __init__(self) -> None:
        self.fake = FakePlaces()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = uvicorn.Config(
            self.fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.fake.base_url = f"http://127.0.0.1:{port}/v1"

    def start(self) -> FakePlaces:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Places server did not start")
            time.sleep(0.02)
        return self.fake

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
