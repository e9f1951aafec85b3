"""Browse and search inputs (commerce.md §5.1, §5.2): filters, sorts, keyset cursors and text tokens."""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from packfinderz.kit.errors import ValidationFailed

Sort = Literal["newest", "price_asc", "price_desc", "distance", "relevance"]
MAX_TOKENS = 8
_TOKEN_RE = re.compile(r"[^\W_]+")  # runs of letters and digits
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The type of each sort's key inside a cursor.
_KEY_KINDS: dict[str, str] = {
    "newest": "time",
    "price_asc": "int",
    "price_desc": "int",
    "distance": "float",
    "relevance": "float",
}


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(details={"cursor": "is invalid"})


@dataclass(frozen=True)
class SortCursor:
    """The last row of a page: its sort key and id, tagged with the sort it belongs to."""

    sort: str
    key: datetime | int | float
    id: uuid.UUID

    def encode(self) -> str:
        """base64url (unpadded) of `<sort>|<key>|<id>`: µs UTC for times, repr for floats."""
        # Times as integer microseconds (a float timestamp can be a microsecond off), floats by repr.
        key = str((self.key - _EPOCH) // _MICROSECOND) if isinstance(self.key, datetime) else repr(self.key)
        raw = f"{self.sort}|{key}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, sort: str) -> SortCursor:
        """Parse a cursor of this sort; any other shape (or another sort's cursor) is a 400."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            tag, key_text, id_text = raw.split("|")
            kind = _KEY_KINDS[tag]
            key: datetime | int | float
            if kind == "time":
                key = _EPOCH + int(key_text) * _MICROSECOND
            elif kind == "int":
                key = int(key_text)
            else:
                key = float(key_text)
                if not math.isfinite(key):
                    raise ValueError("not a finite number")
            cursor = cls(tag, key, uuid.UUID(id_text))
        except (ValueError, KeyError, binascii.Error, UnicodeDecodeError, OverflowError):
            raise invalid_cursor() from None
        if cursor.sort != sort:
            raise invalid_cursor()
        return cursor


def tokens(q: str) -> list[str]:
    """Search tokens: runs of letters and digits, lower-cased, at most eight."""
    return _TOKEN_RE.findall(q.lower())[:MAX_TOKENS]


def tsquery_text(words: list[str], scope: str | None = None) -> str:
    """`'tok1':* & 'tok2':*` (prefix match on every token), each lexeme prefixed `<scope>~` when scoped.

    Tokens hold only letters and digits, so quoting them needs no escaping.
    """
    prefix = f"{scope}~" if scope else ""
    return " & ".join(f"'{prefix}{word}':*" for word in words)


@dataclass(frozen=True)
class Filters:
    """The filters of a product list; all optional and combined with AND."""

    category: str | None = None
    classification: str | None = None
    price_min_cents: int | None = None
    price_max_cents: int | None = None
    thc_min: Decimal | None = None
    thc_max: Decimal | None = None
    cbd_min: Decimal | None = None
    cbd_max: Decimal | None = None
    has_promo: bool | None = None
    vendor_store_id: uuid.UUID | None = None
    q: str | None = None
    words: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        problems: dict[str, str] = {}
        for low, high in (
            ("price_min_cents", "price_max_cents"),
            ("thc_min", "thc_max"),
            ("cbd_min", "cbd_max"),
        ):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                problems[low] = f"must not exceed {high}"
        if self.q is not None:
            q = self.q.strip()
            if not q:
                problems["q"] = "must not be blank"
            object.__setattr__(self, "q", q)
            object.__setattr__(self, "words", tokens(q))
        if problems:
            raise ValidationFailed(details=problems)

    def fingerprint(self) -> str:
        """A canonical text of the filters (part of the cached-total key)."""
        values = [
            self.category,
            self.classification,
            self.price_min_cents,
            self.price_max_cents,
            self.thc_min,
            self.thc_max,
            self.cbd_min,
            self.cbd_max,
            self.has_promo,
            self.vendor_store_id,
            self.q.lower() if self.q is not None else None,
        ]
        return "|".join("" if v is None else str(v) for v in values)


@dataclass(frozen=True)
class ListRequest:
    """A validated product list request: filters, sort, page size and position."""

    filters: Filters
    sort: Sort
    limit: int
    cursor: SortCursor | None

    @classmethod
    def build(
        cls, filters: Filters, sort: Sort, limit: int, cursor: str | None, *, buyer: bool
    ) -> ListRequest:
        """Check the sort against the caller and the query, then decode the cursor for that sort."""
        if sort == "relevance" and filters.q is None:
            raise ValidationFailed(details={"sort": "relevance requires q"})
        if sort == "distance" and not buyer:
            raise ValidationFailed(details={"sort": "distance is for buyers only"})
        return cls(filters, sort, limit, SortCursor.decode(cursor, sort) if cursor else None)
