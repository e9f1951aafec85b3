"""Address lookup request and response models (identity.md §15)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic.config import JsonDict

PlaceId = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$"),
]


class ResolveIn(BaseModel):
    """A place id from `/suggest`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"place_id": "ChIJgUbEo8cfqokR5lP9_Wh_DaM"}]}
    )

    place_id: PlaceId = Field(description="Place id from /suggest: letters, digits, `_` and `-`.")


class SuggestionDTO(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "place_id": "ChIJgUbEo8cfqokR5lP9_Wh_DaM",
                    "description": "100 North Broadway Avenue, Oklahoma City, OK, USA",
                }
            ]
        }
    )

    place_id: str
    description: str


_SUGGESTION: JsonDict = {
    "place_id": "ChIJgUbEo8cfqokR5lP9_Wh_DaM",
    "description": "100 North Broadway Avenue, Oklahoma City, OK, USA",
}


class SuggestPage(BaseModel):
    """The list shape with one page: `next_cursor` is always null."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_SUGGESTION], "next_cursor": None}]})

    items: list[SuggestionDTO]
    next_cursor: str | None


class SuggestResponse(BaseModel):
    """`{"data": {"items": [...], "next_cursor": null}}`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": {"items": [_SUGGESTION], "next_cursor": None}}]}
    )

    data: SuggestPage


class AddressDTO(BaseModel):
    """A store address (identity.md §5), ready for register or checkout."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line1": "100 N Broadway Ave",
                    "line2": "Suite 200",
                    "city": "Oklahoma City",
                    "state": "OK",
                    "postal_code": "73102",
                    "country": "US",
                    "lat": 35.4676,
                    "lng": -97.5164,
                }
            ]
        }
    )

    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    country: str
    lat: float
    lng: float
