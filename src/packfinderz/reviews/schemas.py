"""Review request and response models (identity.md §5 `reviews`, §14)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints
from pydantic.config import JsonDict

from packfinderz.kit.schemas import AsInteger
from packfinderz.models.social import REVIEW_BODY_MAX, REVIEW_TITLE_MAX


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


_Title = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=REVIEW_TITLE_MAX)]
_Body = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=REVIEW_BODY_MAX)]
Title = Annotated[_Title | None, BeforeValidator(_blank_to_none)]
Body = Annotated[_Body | None, BeforeValidator(_blank_to_none)]

REVIEW_EXAMPLE: JsonDict = {
    "id": "0f4e2a8c-8d51-4f0b-9a43-5b8d0c7e6a21",
    "review_type": "store",
    "buyer_store_id": "1a2b3c4d-0000-4000-8000-000000000001",
    "vendor_store_id": "1a2b3c4d-0000-4000-8000-000000000002",
    "buyer_user_id": "1a2b3c4d-0000-4000-8000-000000000003",
    "order_id": "1a2b3c4d-0000-4000-8000-000000000004",
    "rating": 5,
    "title": "Reliable vendor",
    "body": "Everything arrived as ordered, well packed and on time.",
    "is_verified_purchase": True,
    "is_visible": True,
    "created_at": "2026-12-07T12:00:00Z",
    "updated_at": "2026-12-07T12:00:00Z",
}


class ReviewIn(BaseModel):
    """A store review. `order_id`, when given, must be one of the active store's delivered or closed
    orders with that vendor."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "vendor_store_id": "1a2b3c4d-0000-4000-8000-000000000002",
                    "order_id": "1a2b3c4d-0000-4000-8000-000000000004",
                    "rating": 5,
                    "title": "Reliable vendor",
                    "body": "Everything arrived as ordered, well packed and on time.",
                }
            ]
        },
    )

    vendor_store_id: uuid.UUID
    order_id: uuid.UUID | None = None
    rating: Annotated[int, Field(ge=1, le=5, description="Stars, 1..5."), AsInteger]
    title: Title = Field(default=None, description=f"At most {REVIEW_TITLE_MAX} characters; blank = none.")
    body: Body = Field(default=None, description=f"At most {REVIEW_BODY_MAX} characters; blank = none.")


class ReviewDTO(BaseModel):
    """A review: its columns except `product_id` (product reviews are planned)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [REVIEW_EXAMPLE]})

    id: uuid.UUID
    review_type: Literal["store", "product"]
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID
    buyer_user_id: uuid.UUID
    order_id: uuid.UUID | None
    rating: int
    title: str | None
    body: str | None
    is_verified_purchase: bool
    is_visible: bool
    created_at: datetime
    updated_at: datetime
