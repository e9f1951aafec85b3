"""Wishlist request and response models (identity.md §13)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from packfinderz.catalog.schemas import ProductSummary


class WishlistAddIn(BaseModel):
    """The product to keep."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"product_id": "5b7c1d7e-3a52-4c41-9a0e-2f1b8c6d4e10"}]},
    )

    product_id: uuid.UUID


class WishlistEntry(BaseModel):
    """A wishlist row as the add endpoint answers it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"product_id": "5b7c1d7e-3a52-4c41-9a0e-2f1b8c6d4e10", "created_at": "2026-12-07T12:00:00Z"}
            ]
        }
    )

    product_id: uuid.UUID
    created_at: datetime


_SUMMARY_EXAMPLE: JsonDict = {
    "id": "5b7c1d7e-3a52-4c41-9a0e-2f1b8c6d4e10",
    "sku": "BD-35",
    "title": "Blue Dream Flower 3.5g",
    "subtitle": None,
    "brand": "Red Dirt Farms",
    "strain": "Blue Dream",
    "category": "flower",
    "classification": "hybrid",
    "unit": "eighth",
    "moq": 1,
    "max_qty": 0,
    "price_cents": 2500,
    "compare_at_price_cents": None,
    "thc_percent": 22.5,
    "cbd_percent": None,
    "has_promo": False,
    "coa_added": True,
    "is_active": True,
    "created_at": "2026-11-30T10:00:00Z",
    "updated_at": "2026-11-30T10:00:00Z",
    "inventory": {
        "available_qty": 120,
        "reserved_qty": 4,
        "low_stock_threshold": 10,
        "updated_at": "2026-12-06T08:00:00Z",
    },
    "vendor_store_id": "1a2b3c4d-0000-4000-8000-000000000002",
    "thumbnail_url": None,
    "distance_meters": 3120,
}


class WishlistItemDTO(BaseModel):
    """A visible wishlist row with its product."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"product": _SUMMARY_EXAMPLE, "created_at": "2026-12-07T12:00:00Z"}]}
    )

    product: ProductSummary
    created_at: datetime


def list_example() -> JsonDict:
    """A one-item page of the wishlist (the OpenAPI example of GET /wishlist)."""
    item: JsonDict = {"product": _SUMMARY_EXAMPLE, "created_at": "2026-12-07T12:00:00Z"}
    return {"data": {"items": [item], "next_cursor": None, "total": 1}}
