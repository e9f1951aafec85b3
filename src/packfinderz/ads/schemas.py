"""Ad request and response models (money-ads-analytics.md §2.3-§2.6, §3.5)."""

from __future__ import annotations

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

from packfinderz.models.ads import BODY_MAX, HEADLINE_MAX, AdStatus, Placement, TargetType

BudgetState = Literal["available", "exhausted"]
Cents = Annotated[int, Strict(), Field(ge=0, le=10**12)]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _http_url(value: str) -> str:
    lowered = value.lower()
    if not (lowered.startswith("http://") or lowered.startswith("https://")) or len(value) <= len("http://"):
        raise ValueError("must be an http or https URL")
    if any(ch.isspace() for ch in value):
        raise ValueError("must be an http or https URL")
    return value


DestinationUrl = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(_http_url),
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
    """PATCH /api/v1/vendor/ads/{adId}: omitted = unchanged; `creatives` replaces the whole set."""

    status: Literal["draft", "active", "paused"] | None = Field(
        None, description="draft/paused → active (needs subscription + KYC), active → paused."
    )
    bid_cents: Cents | None = None
    daily_budget_cents: Cents | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    creatives: Creatives | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> AdUpdate:
        for name in ("status", "bid_cents", "daily_budget_cents", "creatives"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} must not be null")
        return self


class CreativeDTO(BaseModel):
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
    date: date
    impressions: int
    clicks: int
    conversions: int
    spend_cents: int
    revenue_cents: int


class AdAnalytics(BaseModel):
    metrics: AdMetrics
    series: list[AdSeriesPoint]


class AdDetail(BaseModel):
    ad: AdDTO
    analytics: AdAnalytics


class ServedCreative(BaseModel):
    id: uuid.UUID
    media_url: str | None
    destination_url: str
    headline: str | None
    body: str | None


class ServedAd(BaseModel):
    """The winning ad of one serve: its first creative and the two signed tokens of this request."""

    ad_id: uuid.UUID
    placement: Placement
    target_type: TargetType
    target_id: uuid.UUID
    creative: ServedCreative
    request_id: str
    view_token: str
    click_token: str


RawToken = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=4096)]
RequestId = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=64)]


class ImpressionIn(Input):
    """POST /api/v1/ads/impression."""

    view_token: RawToken
    request_id: RequestId
