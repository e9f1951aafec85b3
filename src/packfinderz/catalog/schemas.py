"""Catalog request and response models (commerce.md §4, §5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import nh3
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from packfinderz.kit.schemas import AsInteger, Input, not_nullable
from packfinderz.models.catalog import CLASSIFICATIONS, FEELINGS, FLAVORS, UNITS, USAGE
from packfinderz.models.identity import Category

Classification = Literal["sativa", "hybrid", "indica", "cbd", "hemp", "balanced"]
Unit = Literal["unit", "gram", "ounce", "pound", "eighth", "sixteenth"]
Flavor = Literal[
    "earthy", "citrus", "fruity", "floral", "cheese", "diesel", "spicy", "sweet", "pine", "herbal"
]
Feeling = Literal[
    "relaxed", "happy", "euphoric", "focused", "hungry", "talkative", "creative", "sleepy", "uplifted", "calm"
]  # fmt: skip
Usage = Literal[
    "stress_relief",
    "pain_relief",
    "sleep",
    "depression",
    "muscle_relaxant",
    "nausea",
    "anxiety",
    "appetite_stimulation",
]
for _literal, _values in (
    (Classification, CLASSIFICATIONS),
    (Unit, UNITS),
    (Flavor, FLAVORS),
    (Feeling, FEELINGS),
    (Usage, USAGE),
):
    assert set(_literal.__args__) == set(_values)  # type: ignore[attr-defined]

Qty = Annotated[int, Field(ge=0, le=1_000_000_000), AsInteger]
MAX_CENTS = 10**13
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS), AsInteger]


def _number(value: Any) -> Any:
    """Decimals arrive as JSON numbers only (the schema says `number`; a string is refused)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value


# A percentage: a JSON number with at most two decimals (numeric(5,2)).
Percent = Annotated[
    Decimal,
    BeforeValidator(_number),
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01}),
]
# Decimals travel as JSON numbers (the database keeps them exact as numeric).
DecimalOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _sanitize_html(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = nh3.clean(value).strip()
    return cleaned or None


Sku = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=64)
]
Title = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)
]
# Optional text: blank means null (commerce.md §2).
OptText = Annotated[
    Annotated[str, Strict(), StringConstraints(strip_whitespace=True, max_length=200)] | None,
    BeforeValidator(_blank_to_none),
]
Html = Annotated[
    Annotated[str, Strict(), StringConstraints(max_length=20_000)] | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_sanitize_html),
]


def _distinct(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("entries must be distinct")
    return values


class InventoryIn(Input):
    """Stock as set by the vendor: `available_qty` is sellable stock, already net of reservations."""

    available_qty: Qty
    low_stock_threshold: Qty = 0


class InventoryPatch(InventoryIn):
    """PATCH replaces the inventory as a whole: both fields are required."""

    low_stock_threshold: Qty


class VolumeDiscountIn(Input):
    """A tier: `discount_percent` (0, 100] off the line from `min_qty` units up."""

    min_qty: Annotated[int, Field(ge=1, le=1_000_000_000), AsInteger]
    discount_percent: Annotated[
        Decimal,
        BeforeValidator(_number),
        Field(gt=0, le=100, max_digits=7, decimal_places=4),
        WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.0001}),
    ]


def _tiers(values: list[VolumeDiscountIn] | None) -> list[VolumeDiscountIn] | None:
    if values is not None and len({v.min_qty for v in values}) != len(values):
        raise ValueError("min_qty must be unique")
    return values


Tiers = Annotated[list[VolumeDiscountIn], Field(max_length=20), AfterValidator(_tiers)]
MediaIds = Annotated[
    list[uuid.UUID],
    Field(max_length=20),
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]
Feelings = Annotated[
    list[Feeling],
    Field(min_length=1, max_length=len(FEELINGS)),
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]
Flavors = Annotated[
    list[Flavor],
    Field(min_length=1, max_length=len(FLAVORS)),
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]
Usages = Annotated[
    list[Usage],
    Field(min_length=1, max_length=len(USAGE)),
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True}),
]

# Examples: the demo marketplace (`packfinderz seed --demo`), Boulder Botanicals' MAC flower.
_PRODUCT_ID = "0db0e63d-7ff7-4437-99d3-e1d1bc840f4e"
_VENDOR_ID = "2861e0f5-1d90-46b2-b22d-e841c6de396a"
_AT = "2026-01-01T07:09:27.158997Z"
_INVENTORY_EXAMPLE: dict[str, Any] = {
    "available_qty": 5,
    "reserved_qty": 0,
    "low_stock_threshold": 10,
    "updated_at": _AT,
}
_BASE_EXAMPLE: dict[str, Any] = {
    "id": _PRODUCT_ID,
    "sku": "D02-000010",
    "title": "MAC Flower 3.5g",
    "subtitle": None,
    "brand": "North Star Botanicals",
    "strain": "MAC",
    "category": "flower",
    "classification": "hybrid",
    "unit": "eighth",
    "moq": 1,
    "max_qty": 100,
    "price_cents": 3750,
    "compare_at_price_cents": None,
    "thc_percent": 24.88,
    "cbd_percent": 1.76,
    "has_promo": True,
    "coa_added": False,
    "is_active": True,
    "created_at": _AT,
    "updated_at": _AT,
    "inventory": _INVENTORY_EXAMPLE,
}
SUMMARY_EXAMPLE = {
    **_BASE_EXAMPLE,
    "vendor_store_id": _VENDOR_ID,
    "thumbnail_url": None,
    "distance_meters": 37540,
}
PRODUCT_EXAMPLE = {
    **_BASE_EXAMPLE,
    "body_html": "<p>Solventless, frosty and relaxing; citrus and pine on the finish.</p>",
    "batch_id": None,
    "metric_tag": None,
    "barcode": None,
    "packaging_type": None,
    "feelings": ["uplifted"],
    "flavors": ["pine", "citrus", "sweet"],
    "usage": ["pain_relief"],
    "is_featured": False,
    "coa_media_id": None,
    "coa_read_url": None,
    "volume_discounts": [
        {
            "id": "d1984225-5186-4305-934a-c5422796bd70",
            "min_qty": 10,
            "discount_percent": 5.0,
            "created_at": _AT,
        }
    ],
    "media": [],
    "vendor": {
        "store_id": _VENDOR_ID,
        "company_name": "Boulder Botanicals",
        "dba_name": None,
        "logo_url": None,
    },
}

# Fields a PATCH may omit but never null (the nullable ones clear with an explicit null).
REQUIRED_ON_UPDATE = (
    "sku",
    "title",
    "category",
    "unit",
    "feelings",
    "flavors",
    "usage",
    "moq",
    "price_cents",
    "max_qty",
    "is_active",
    "is_featured",
    "inventory",
    "volume_discounts",
    "media_ids",
)


def _drop_null(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    """Declare these PATCH properties as omittable but not nullable (an explicit null is refused)."""
    for name in names:
        prop = schema.get("properties", {}).get(name)
        if prop and "anyOf" in prop:
            not_nullable(prop)


class ProductFields(Input):
    """Fields shared by create and update (the same rules apply to both)."""

    subtitle: OptText = None
    body_html: Html = None
    brand: OptText = None
    strain: OptText = None
    batch_id: OptText = None
    metric_tag: OptText = None
    barcode: OptText = None
    packaging_type: OptText = None
    classification: Classification | None = None
    compare_at_price_cents: Cents | None = None
    thc_percent: Percent | None = None
    cbd_percent: Percent | None = None
    coa_media_id: uuid.UUID | None = None


class ProductCreate(ProductFields):
    """POST /api/v1/vendor/products."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "D02-000010",
                    "title": "MAC Flower 3.5g",
                    "brand": "North Star Botanicals",
                    "strain": "MAC",
                    "category": "flower",
                    "classification": "hybrid",
                    "unit": "eighth",
                    "feelings": ["uplifted"],
                    "flavors": ["pine", "citrus", "sweet"],
                    "usage": ["pain_relief"],
                    "moq": 1,
                    "max_qty": 100,
                    "price_cents": 3750,
                    "thc_percent": 24.88,
                    "cbd_percent": 1.76,
                    "inventory": {"available_qty": 5, "low_stock_threshold": 10},
                    "volume_discounts": [{"min_qty": 10, "discount_percent": 5}],
                }
            ]
        }
    )

    sku: Sku
    title: Title
    category: Category
    unit: Unit
    feelings: Feelings
    flavors: Flavors
    usage: Usages
    moq: Annotated[int, Field(ge=1, le=1_000_000_000), AsInteger]
    price_cents: Annotated[int, Field(ge=1, le=10**13), AsInteger]
    max_qty: Qty = 0
    is_active: Annotated[bool, Strict()] = True
    is_featured: Annotated[bool, Strict()] = False
    inventory: InventoryIn
    volume_discounts: Annotated[Tiers, Field(min_length=1)] | None = None
    media_ids: MediaIds = Field(default_factory=list)

    @model_validator(mode="after")
    def _max_qty_covers_moq(self) -> ProductCreate:
        if self.max_qty and self.max_qty < self.moq:
            raise ValueError("max_qty must be 0 (no cap) or at least moq")
        return self


def _update_schema(schema: dict[str, Any]) -> None:
    _drop_null(schema, REQUIRED_ON_UPDATE)
    schema["examples"] = [{"price_cents": 3500, "compare_at_price_cents": 3750, "subtitle": None}]


class ProductUpdate(ProductFields):
    """PATCH /api/v1/vendor/products/{id}: omitted = unchanged, `null` clears a nullable field; the fields
    that are not nullable here refuse `null`."""

    model_config = ConfigDict(json_schema_extra=_update_schema)

    sku: Sku | None = None
    title: Title | None = None
    category: Category | None = None
    unit: Unit | None = None
    feelings: Feelings | None = None
    flavors: Flavors | None = None
    usage: Usages | None = None
    moq: Annotated[int, Field(ge=1, le=1_000_000_000), AsInteger] | None = None
    price_cents: Annotated[int, Field(ge=1, le=10**13), AsInteger] | None = None
    max_qty: Qty | None = None
    is_active: Annotated[bool, Strict()] | None = None
    is_featured: Annotated[bool, Strict()] | None = None
    inventory: InventoryPatch | None = None
    volume_discounts: Tiers | None = None
    media_ids: MediaIds | None = None

    @field_validator(*REQUIRED_ON_UPDATE, mode="after")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields the client sent (defaults are not validated): an explicit null.
        if value is None:
            raise ValueError("must not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as given (nulls included)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class InventoryPut(Input):
    """PUT /api/v1/inventory/{productId}: a threshold left out keeps its current value."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"available_qty": 40, "low_stock_threshold": 10}]}
    )

    available_qty: Qty
    low_stock_threshold: Qty | None = None


# --- responses -------------------------------------------------------------------------------------


class InventoryDTO(BaseModel):
    available_qty: int
    reserved_qty: int
    low_stock_threshold: int
    updated_at: datetime


class VolumeDiscountDTO(BaseModel):
    id: uuid.UUID
    min_qty: int
    discount_percent: DecimalOut
    created_at: datetime


class ProductMediaDTO(BaseModel):
    id: uuid.UUID
    media_id: uuid.UUID | None
    url: str | None
    position: int
    created_at: datetime


class VendorDTO(BaseModel):
    store_id: uuid.UUID
    company_name: str
    dba_name: str | None
    logo_url: str | None


class ProductBase(BaseModel):
    """Columns shared by the summary and the full product."""

    id: uuid.UUID
    sku: str
    title: str
    subtitle: str | None
    brand: str | None
    strain: str | None
    category: Category
    classification: Classification | None
    unit: Unit
    moq: int
    max_qty: int
    price_cents: int
    compare_at_price_cents: int | None
    thc_percent: DecimalOut | None
    cbd_percent: DecimalOut | None
    has_promo: bool
    coa_added: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
    inventory: InventoryDTO | None


class ProductSummary(ProductBase):
    """One row of a product list (commerce.md §5.1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    vendor_store_id: uuid.UUID
    thumbnail_url: str | None
    distance_meters: int | None


class ProductDTO(ProductBase):
    """A product with its tiers, gallery, COA and vendor (commerce.md §5.5)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRODUCT_EXAMPLE]})

    body_html: str | None
    batch_id: str | None
    metric_tag: str | None
    barcode: str | None
    packaging_type: str | None
    feelings: list[Feeling]
    flavors: list[Flavor]
    usage: list[Usage]
    is_featured: bool
    coa_media_id: uuid.UUID | None
    coa_read_url: str | None
    volume_discounts: list[VolumeDiscountDTO]
    media: list[ProductMediaDTO]
    vendor: VendorDTO


class InventoryRow(InventoryDTO):
    """GET /api/v1/inventory: a product's stock with its sku and title."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_INVENTORY_EXAMPLE,
                    "product_id": _PRODUCT_ID,
                    "sku": "D02-000010",
                    "title": "MAC Flower 3.5g",
                    "is_active": True,
                    "low_stock": True,
                }
            ]
        }
    )

    product_id: uuid.UUID
    sku: str
    title: str
    is_active: bool
    low_stock: bool
