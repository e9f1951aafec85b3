"""The `google` maps adapter: Places API (New) over httpx (identity.md §15).

- Suggest: `POST {base}/places:autocomplete` `{input, includedRegionCodes?, languageCode?}`; only place
  predictions are kept (query predictions name no place).
- Resolve: `GET {base}/places/{id}` with a field mask of what the address needs.
- Every call sends `X-Goog-Api-Key`; the key is never logged. Transport errors, timeouts and non-2xx
  answers are 503 `{dependency: "maps"}`; on resolve, the provider's NOT_FOUND / INVALID_ARGUMENT (the
  client's place id) is our 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import structlog

from packfinderz.maps.base import MapsUnavailable, PlaceNotFound, ResolvedAddress, Suggestion

log = structlog.get_logger("maps")

AUTOCOMPLETE_FIELDS = "suggestions.placePrediction.placeId,suggestions.placePrediction.text"
DETAILS_FIELDS = "addressComponents,formattedAddress,location"


class GoogleMaps:
    """Places API (New) client; one pooled httpx client per process."""

    name = "google"

    def __init__(self, api_key: str, base_url: str, timeout: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            headers={"X-Goog-Api-Key": api_key},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, *, fields: str, body: Any = None) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=body, headers={"X-Goog-FieldMask": fields})
        except httpx.TimeoutException:
            log.warning("maps.timeout", call="autocomplete" if method == "POST" else "details")
            raise MapsUnavailable("maps provider timed out") from None
        except httpx.HTTPError as exc:
            log.warning("maps.unreachable", error=type(exc).__name__)
            raise MapsUnavailable from None

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            log.warning("maps.provider_error", status=response.status_code)
            raise MapsUnavailable
        try:
            data = response.json()
        except ValueError:
            raise MapsUnavailable from None
        if not isinstance(data, dict):
            raise MapsUnavailable
        return data

    async def suggest(self, query: str, country: str | None, language: str | None) -> list[Suggestion]:
        body: dict[str, Any] = {"input": query}
        if country:
            body["includedRegionCodes"] = [country.upper()]
        if language:
            body["languageCode"] = language
        data = self._json(
            await self._call("POST", "/places:autocomplete", fields=AUTOCOMPLETE_FIELDS, body=body)
        )
        found: list[Suggestion] = []
        for suggestion in data.get("suggestions") or []:
            prediction = suggestion.get("placePrediction") if isinstance(suggestion, dict) else None
            if not isinstance(prediction, dict):
                continue
            place_id = prediction.get("placeId")
            text = (prediction.get("text") or {}).get("text")
            if isinstance(place_id, str) and place_id and isinstance(text, str) and text:
                found.append(Suggestion(place_id=place_id, description=text))
        return found

    async def resolve(self, place_id: str) -> ResolvedAddress:
        response = await self._call("GET", f"/places/{quote(place_id, safe='')}", fields=DETAILS_FIELDS)
        if response.status_code in (400, 404) and _status_of(response) in ("NOT_FOUND", "INVALID_ARGUMENT"):
            raise PlaceNotFound
        return address_from_place(self._json(response))


def _status_of(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None
    status = error.get("status") if isinstance(error, dict) else None
    return status if isinstance(status, str) else None


def _components(place: dict[str, Any]) -> dict[str, dict[str, str]]:
    """First component of each type: `{type: {"long": ..., "short": ...}}`."""
    found: dict[str, dict[str, str]] = {}
    for component in place.get("addressComponents") or []:
        if not isinstance(component, dict):
            continue
        long_text = str(component.get("longText") or "").strip()
        short_text = str(component.get("shortText") or long_text).strip()
        for kind in component.get("types") or []:
            found.setdefault(str(kind), {"long": long_text, "short": short_text})
    return found


def address_from_place(place: dict[str, Any]) -> ResolvedAddress:
    """Map a Place to the store address (identity.md §15); a missing part is 503 naming it."""
    parts = _components(place)

    def text(kind: str, form: str = "long") -> str | None:
        value = parts.get(kind, {}).get(form)
        return value or None

    location = place.get("location") or {}
    lat, lng = location.get("latitude"), location.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        raise MapsUnavailable("place has no location")
    street = " ".join(p for p in (text("street_number"), text("route")) if p)
    if not street:
        formatted = str(place.get("formattedAddress") or "")
        street = formatted.split(",", 1)[0].strip()
    if not street:
        raise MapsUnavailable("place has no street address")
    city = text("locality") or text("postal_town") or text("administrative_area_level_2")
    if city is None:
        raise MapsUnavailable("place has no city")
    state = text("administrative_area_level_1", "short")
    if state is None:
        raise MapsUnavailable("place has no state")
    postal_code = text("postal_code")
    if postal_code is None:
        raise MapsUnavailable("place has no postal code")
    return ResolvedAddress(
        line1=street,
        line2=text("subpremise"),
        city=city,
        state=state.upper(),
        postal_code=postal_code,
        country=(text("country", "short") or "US").upper(),
        lat=float(lat),
        lng=float(lng),
    )
