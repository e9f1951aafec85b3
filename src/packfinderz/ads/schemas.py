"""Ad request and response models (money-ads-analytics.md §2.3-§2.6, §3.5)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic.config import JsonDict

from packfinderz.kit.schemas import AsInteger, not_nullable
from packfinderz.models.ads import BODY_MAX, HEADLINE_MAX, AdStatus, Placement, TargetType

BudgetState = Literal["available", "exhausted"]


# The before-validator goes last: it runs first, and the bounds stay `minimum`/`maximum` in the schema.
Cents = Annotated[int, Field(ge=0, le=10**12), AsInteger]
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
JWT_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

# Example values: the demo marketplace (`packfinderz seed --demo`), Mile High Growers' hero ad.
_STORE_ID = "1a61416f-452c-427b-927d-28972e1132d1"
_PRODUCT_ID = "db07e077-ea8e-425a-b1cc-50dc9fb879fc"
_CREATIVE_IN: JsonDict = {
    "media_id": None,
    "destination_url": "https://milehighgrowers.example.com/master-kush",
    "headline": "Master Kush Cart 0.5g",
    "body": "Fresh batch, COA included. Ships statewide.",
}
CREATIVE_EXAMPLE: JsonDict = {
    "id": "7d9e4c21-5b3a-4f08-9c6e-2a1b0f3d8e47",
    **_CREATIVE_IN,
    "media_url": None,
    "created_at": "2026-12-07T15:00:00Z",
    "updated_at": "2026-12-07T15:00:00Z",
}
AD_EXAMPLE: JsonDict = {
    "id": "4b8f2e16-93a7-4c5d-8e01-6f7a2b9c3d58",
    "store_id": _STORE_ID,
    "status": "active",
    "placement": "hero",
    "target_type": "product",
    "target_id": _PRODUCT_ID,
    "bid_cents": 450,
    "daily_budget_cents": 5000,
    "starts_at": "2026-12-08T00:00:00Z",
    "ends_at": "2027-01-08T00:00:00Z",
    "paused_reason": None,
    "created_at": "2026-12-07T15:00:00Z",
    "updated_at": "2026-12-07T15:00:00Z",
    "budget_state": "available",
    "creatives": [CREATIVE_EXAMPLE],
}
METRICS_EXAMPLE: JsonDict = {
    "impressions": 12400,
    "clicks": 186,
    "conversions": 7,
    "spend_cents": 5580,
    "revenue_cents": 96600,
    "roas": 17.31,
    "ctr": 0.015,
    "cpc_cents": 30,
    "cpm_cents": 450,
}
SERIES_POINT_EXAMPLE: JsonDict = {
    "date": "2026-12-08",
    "impressions": 1800,
    "clicks": 27,
    "conversions": 1,
    "spend_cents": 810,
    "revenue_cents": 13800,
}
_SERVED_REQUEST_ID = "0c6f1e52-8a3d-4b79-9e20-5d4c7b1a2f68"
_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhZF9pZCI6IjRiOGYyZTE2In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# Blanks as both Python's `str.isspace` and ECMAScript's `\s` know them, listed so that the schema's
# pattern means the same in every regex engine. A destination may have blanks around it (stripped),
# never inside.
_BLANKS = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
URL_PATTERN = rf"^[{_BLANKS}]*[Hh][Tt][Tt][Pp][Ss]?://[^{_BLANKS}]+[{_BLANKS}]*$"
_URL = re.compile(URL_PATTERN)
_EDGE_BLANKS = re.compile(rf"^[{_BLANKS}]+|[{_BLANKS}]+$")


def _http_url(value: str) -> str:
    """An http(s) URL with a non-blank rest; stored stripped, with its scheme in lower case (the table
    checks `^https?://`)."""
    if not _URL.fullmatch(value):
        raise ValueError("must be an http or https URL")
    url = _EDGE_BLANKS.sub("", value)
    scheme_end = url.index("://") + 3
    return url[:scheme_end].lower() + url[scheme_end:]


DestinationUrl = Annotated[
    str,
    Strict(),
    StringConstraints(max_length=2048),
    AfterValidator(_http_url),
    Field(
        json_schema_extra={"pattern": URL_PATTERN},
        description="An http or https URL, no blanks inside (blanks around it are stripped); at most 2048 "
        "characters.",
    ),
]
Headline = Annotated[
    Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=HEADLINE_MAX)] | None,
    BeforeValidator(_blank_to_none),
]
Body = Annotated[
    Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=BODY_MAX)] | None,
    BeforeValidator(_blank_to_none),
]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class CreativeIn(Input):
    """One creative: optional media of kind `ads` (the store's own, uploaded), where a click goes, texts."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CREATIVE_IN]})

    media_id: uuid.UUID | None = None
    destination_url: DestinationUrl
    headline: Headline = None
    body: Body = None


Creatives = Annotated[list[CreativeIn], Field(min_length=1, max_length=5)]


def _window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise ValueError("ends_at must not be before starts_at")


class AdCreate(Input):
    """POST /api/v1/vendor/ads. `placement` + `target_type` follow the type table of §2.2."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "active",
                    "placement": "hero",
                    "target_type": "product",
                    "target_id": _PRODUCT_ID,
                    "bid_cents": 450,
                    "daily_budget_cents": 5000,
                    "starts_at": "2026-12-08T00:00:00Z",
                    "ends_at": "2027-01-08T00:00:00Z",
                    "creatives": [_CREATIVE_IN],
                }
            ]
        }
    )

    status: Literal["draft", "active"] = Field(description="`active` needs a subscription and verified KYC.")
    placement: Placement
    target_type: TargetType
    target_id: uuid.UUID
    bid_cents: Cents = Field(description="CPM: cents per 1 000 impressions.")
    daily_budget_cents: Cents
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    creatives: Creatives

    @model_validator(mode="after")
    def _check_window(self) -> AdCreate:
        _window(self.starts_at, self.ends_at)
        return self


class AdUpdate(Input):
    """PATCH /api/v1/vendor/ads/{adId}: omitted = unchanged; `creatives` replaces the whole set;
    `starts_at`/`ends_at` null clears them, the other fields refuse null."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "paused"}, {"bid_cents": 500, "ends_at": None}]}
    )

    status: Literal["draft", "active", "paused"] | None = Field(
        None,
        description="draft/paused → active (needs subscription + KYC), active → paused.",
        json_schema_extra=not_nullable,
    )
    bid_cents: Cents | None = Field(None, json_schema_extra=not_nullable)
    daily_budget_cents: Cents | None = Field(None, json_schema_extra=not_nullable)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    creatives: Creatives | None = Field(None, json_schema_extra=not_nullable)

    @model_validator(mode="after")
    def _no_nulls(self) -> AdUpdate:
        for name in ("status", "bid_cents", "daily_budget_cents", "creatives"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        return self


class CreativeDTO(BaseModel):
    """A stored creative; `media_url` is a signed read URL of its media."""

    model_config = ConfigDict(json_schema_extra={"examples": [CREATIVE_EXAMPLE]})

    id: uuid.UUID
    media_id: uuid.UUID | None
    media_url: str | None
    destination_url: str
    headline: str | None
    body: str | None
    created_at: datetime
    updated_at: datetime


class AdDTO(BaseModel):
    """The ad's columns, whether today's budget still holds an impression, and its creatives."""

    model_config = ConfigDict(json_schema_extra={"examples": [AD_EXAMPLE]})

    id: uuid.UUID
    store_id: uuid.UUID
    status: AdStatus
    placement: Placement
    target_type: TargetType
    target_id: uuid.UUID
    bid_cents: int
    daily_budget_cents: int
    starts_at: datetime | None
    ends_at: datetime | None
    paused_reason: str | None
    created_at: datetime
    updated_at: datetime
    budget_state: BudgetState
    creatives: list[CreativeDTO]


class AdMetrics(BaseModel):
    """Totals over the range; `roas` = revenue / spend, `ctr` = clicks / impressions (0 when undefined)."""

    model_config = ConfigDict(json_schema_extra={"examples": [METRICS_EXAMPLE]})

    impressions: int
    clicks: int
    conversions: int
    spend_cents: int
    revenue_cents: int
    roas: float
    ctr: float
    cpc_cents: int
    cpm_cents: int


class AdSeriesPoint(BaseModel):
    """One UTC day of the ad."""

    model_config = ConfigDict(json_schema_extra={"examples": [SERIES_POINT_EXAMPLE]})

    date: date
    impressions: int
    clicks: int
    conversions: int
    spend_cents: int
    revenue_cents: int


class AdAnalytics(BaseModel):
    """Totals and the zero-filled daily series."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"metrics": METRICS_EXAMPLE, "series": [SERIES_POINT_EXAMPLE]}]}
    )

    metrics: AdMetrics
    series: list[AdSeriesPoint]


class AdDetail(BaseModel):
    """An ad with its analytics over the requested range."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ad": AD_EXAMPLE,
                    "analytics": {"metrics": METRICS_EXAMPLE, "series": [SERIES_POINT_EXAMPLE]},
                }
            ]
        }
    )

    ad: AdDTO
    analytics: AdAnalytics


_SERVED_CREATIVE: JsonDict = {
    "id": CREATIVE_EXAMPLE["id"],
    "media_url": None,
    "destination_url": _CREATIVE_IN["destination_url"],
    "headline": _CREATIVE_IN["headline"],
    "body": _CREATIVE_IN["body"],
}


class ServedCreative(BaseModel):
    """The creative to show."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SERVED_CREATIVE]})

    id: uuid.UUID
    media_url: str | None
    destination_url: str
    headline: str | None
    body: str | None


class ServedAd(BaseModel):
    """The winning ad of one serve: its first creative and the two signed tokens of this request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ad_id": AD_EXAMPLE["id"],
                    "placement": "hero",
                    "target_type": "product",
                    "target_id": _PRODUCT_ID,
                    "creative": _SERVED_CREATIVE,
                    "request_id": _SERVED_REQUEST_ID,
                    "view_token": _JWT,
                    "click_token": _JWT,
                }
            ]
        }
    )

    ad_id: uuid.UUID
    placement: Placement
    target_type: TargetType
    target_id: uuid.UUID
    creative: ServedCreative
    request_id: str
    view_token: str
    click_token: str


RawToken = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=5, max_length=4096, pattern=JWT_PATTERN),
    Field(description="A token from /serve (a signed JWT: three base64url parts)."),
]
RequestId = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=36, max_length=36, pattern=UUID_PATTERN),
    Field(description="The `request_id` of the same /serve answer (a lowercase UUID)."),
]


class ImpressionIn(Input):
    """POST /api/v1/ads/impression: the `view_token` and `request_id` of one /serve answer."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"view_token": _JWT, "request_id": _SERVED_REQUEST_ID}]}
    )

    view_token: RawToken
    request_id: RequestId
