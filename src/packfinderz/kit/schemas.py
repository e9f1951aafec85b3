"""Request and response pieces shared by every domain: the strict input base, bounded text, contact and
address types (identity.md §5). Domain schemas build on these; none of them belongs to one domain.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

Name = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=100)
]
ShortText = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)
]
Phone = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=32)
]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]


def _whole_number(value: Any) -> Any:
    """A JSON integer: `3` or `3.0` (one number to JSON Schema); strings, booleans and fractions refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


# The last annotation of an integer body field, after its bounds (`Annotated[int, Field(ge=0), AsInteger]`;
# placed before them, pydantic would drop `minimum`/`maximum` from the schema): the field accepts exactly
# what `{"type": "integer"}` accepts.
AsInteger = BeforeValidator(_whole_number)


def not_nullable(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an optional PATCH field that refuses null: absent is fine, null is a 400.

    The type stays `X | None` (so the refusal is the field's own message) but the document offers no null.
    """
    if schema.get("default", ...) is None:
        del schema["default"]
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


# An RFC 3339 date-time with its offset, as a query parameter: pydantic alone would also read plain
# numbers (`0.5`) as Unix timestamps and dates without a time; the schema says exactly this shape.
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2026-12-01T00:00:00Z")
    return value


DateTimeParam = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]
Latitude = Annotated[float, Strict(), Field(ge=-90, le=90)]
Longitude = Annotated[float, Strict(), Field(ge=-180, le=180)]
# A US state or ISO 3166-1 country code: exactly two uppercase ASCII letters (`CO`, `US`), as the schema
# says (issue #18); lowercase or padded codes are refused, not normalized.
CountryOrStateCode = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{2}$")]
Url = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=500)
]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# --- address ------------------------------------------------------------------------------------


class AddressIn(Input):
    """A store address; required parts non-blank; state and country are two uppercase letters."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line1": "1550 Wewatta St",
                    "line2": "Suite 200",
                    "city": "Denver",
                    "state": "CO",
                    "postal_code": "80202",
                    "country": "US",
                    "lat": 39.7508,
                    "lng": -104.9966,
                }
            ]
        }
    )

    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    state: CountryOrStateCode
    postal_code: Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=20)
    ]
    country: CountryOrStateCode = "US"
    lat: Latitude
    lng: Longitude

    def columns(self) -> dict[str, Any]:
        return {
            "address_line1": self.line1,
            "address_line2": self.line2,
            "address_city": self.city,
            "address_state": self.state,
            "address_postal_code": self.postal_code,
            "address_country": self.country,
            "lat": self.lat,
            "lng": self.lng,
        }


# The demo marketplace's Denver address (`packfinderz seed --demo`): the example of every address field.
ADDRESS_EXAMPLE: dict[str, Any] = {
    "line1": "1 Main St",
    "line2": None,
    "city": "Denver",
    "state": "CO",
    "postal_code": "80202",
    "country": "US",
    "lat": 39.7392,
    "lng": -104.9903,
}


class Address(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ADDRESS_EXAMPLE]})

    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    country: str
    lat: float
    lng: float


class AddressColumns(Protocol):
    """Anything stored with the address columns (a store row)."""

    address_line1: str
    address_line2: str | None
    address_city: str
    address_state: str
    address_postal_code: str
    address_country: str
    lat: float
    lng: float


def address_of(row: AddressColumns) -> Address:
    """The Address of a row with address columns."""
    return Address(
        line1=row.address_line1,
        line2=row.address_line2,
        city=row.address_city,
        state=row.address_state,
        postal_code=row.address_postal_code,
        country=row.address_country,
        lat=row.lat,
        lng=row.lng,
    )
