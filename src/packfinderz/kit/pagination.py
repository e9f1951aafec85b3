"""Cursor pagination, the only list shape (identity.md §1.4).

Cursor = base64url (unpadded) of `<sort timestamp in µs UTC>|<id>` of the last returned row; the next
page holds rows strictly after it in `created_at DESC, id DESC` order (or the endpoint's own order).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from packfinderz.kit.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# Every cursor of the API is unpadded base64url (this module, catalog search, customers, billing): the
# document states the alphabet and a bound; what is inside stays opaque (an altered cursor is a 400).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR_MAX_LENGTH = 512
CURSOR_DESCRIPTION = (
    "Opaque cursor: the `next_cursor` of the previous page, passed back unchanged "
    '(unpadded base64url; an altered or foreign cursor is a 400 `{cursor: "is invalid"}`).'
)
_CURSOR_RE = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class Cursor:
    """A decoded position: the sort timestamp and id of the last row returned."""

    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        micros = int(self.at.astimezone(UTC).timestamp() * 1_000_000)
        raw = f"{micros}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Parse a cursor; 400 `{cursor: "is invalid"}` when it is malformed."""
        if len(value) > CURSOR_MAX_LENGTH or not _CURSOR_RE.match(value):
            raise ValidationFailed(details={"cursor": "is invalid"})
        try:
            padded = value + "=" * (-len(value) % 4)
            micros, _, ident = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
            return cls(datetime.fromtimestamp(int(micros) / 1_000_000, UTC), uuid.UUID(ident))
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
            raise ValidationFailed(details={"cursor": "is invalid"}) from None


@dataclass(frozen=True)
class PageParams:
    """`limit` (1..100, default 25) and the decoded `cursor`."""

    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None


# The `cursor` query parameter of every list (those that decode their own cursors use it too).
CursorQuery = Annotated[
    str | None,
    Query(description=CURSOR_DESCRIPTION, pattern=CURSOR_PATTERN, max_length=CURSOR_MAX_LENGTH),
]


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> PageParams:
    """FastAPI dependency parsing the pagination query."""
    return PageParams(limit=limit, cursor=Cursor.decode(cursor) if cursor else None)


def after_cursor_desc(
    sort_column: InstrumentedAttribute[Any] | ColumnElement[Any],
    id_column: InstrumentedAttribute[Any] | ColumnElement[Any],
    cursor: Cursor | None,
) -> ColumnElement[bool] | None:
    """WHERE clause selecting rows strictly after the cursor in (sort DESC, id DESC) order."""
    if cursor is None:
        return None
    return tuple_(sort_column, id_column) < tuple_(cursor.at, cursor.id)


def after_cursor_asc(
    sort_column: InstrumentedAttribute[Any] | ColumnElement[Any],
    id_column: InstrumentedAttribute[Any] | ColumnElement[Any],
    cursor: Cursor | None,
) -> ColumnElement[bool] | None:
    """WHERE clause selecting rows strictly after the cursor in (sort ASC, id ASC) order."""
    if cursor is None:
        return None
    return tuple_(sort_column, id_column) > tuple_(cursor.at, cursor.id)


def _page_schema(schema: dict[str, Any]) -> None:
    """`total` is absent or an integer (never null); `next_cursor` is an opaque cursor or null."""
    properties = schema.get("properties", {})
    properties["total"] = {
        "type": "integer",
        "minimum": 0,
        "title": "Total",
        "description": "Number of matching rows; present only on endpoints that count.",
    }
    properties["next_cursor"] = {
        "anyOf": [
            {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": CURSOR_MAX_LENGTH},
            {"type": "null"},
        ],
        "title": "Next Cursor",
        "description": "Pass as `cursor` to get the next page; null on the last page.",
    }


class Page(BaseModel, Generic[T]):
    """`{"items": [...], "next_cursor": str|null, "total"?: int}`; `total` only where an endpoint counts."""

    model_config = ConfigDict(json_schema_extra=_page_schema)

    items: list[T]
    next_cursor: str | None
    # omitted (not null) where the endpoint does not count; a field-level rule, so the schema stays the
    # model's own (a model_serializer would render the Page as an untyped object)
    total: int | None = Field(default=None, exclude_if=lambda value: value is None)


class PageEnvelope(BaseModel, Generic[T]):
    """`{"data": Page}`."""

    data: Page[T]


def build_page(
    rows: Sequence[Any], limit: int, *, sort_attr: str = "created_at", id_attr: str = "id"
) -> tuple[list[Any], str | None]:
    """Cut the `limit + 1` fetched rows to a page and compute the next cursor from its last row."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    last = items[-1]
    return items, Cursor(getattr(last, sort_attr), getattr(last, id_attr)).encode()
