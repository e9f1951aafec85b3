"""Wishlist request and response models (identity.md §13)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

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


class WishlistItemDTO(BaseModel):
    """A visible wishlist row with its product."""

    product: ProductSummary
    created_at: datetime
