"""Cursor pagination, the only list shape (identity.md §1.4).

Cursor = base64url (unpadded) of `<sort timestamp in µs UTC>|<id>` of the last returned row; the next
page holds rows strictly after it in `created_at DESC, id DESC` order (or the endpoint's own order).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from packfinderz.kit.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


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


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="Opaque cursor from the previous page.")] = None,
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


class Page(BaseModel, Generic[T]):
    """`{"items": [...], "next_cursor": str|null, "total"?: int}`; `total` only where an endpoint counts."""

    items: list[T]
    next_cursor: str | None
    total: int | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_total(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("total") is None:
            data.pop("total", None)
        return data


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
