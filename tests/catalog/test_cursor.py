"""Cursors and search tokens (pure functions)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packfinderz.catalog.search import SortCursor, tokens, tsquery_text
from packfinderz.kit.errors import ValidationFailed

MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(MOMENTS, st.uuids())
def test_time_cursor_round_trips_to_the_microsecond(moment: datetime, ident: uuid.UUID) -> None:
    cursor = SortCursor("newest", moment, ident)
    assert SortCursor.decode(cursor.encode(), "newest") == cursor


@given(st.floats(allow_nan=False, allow_infinity=False), st.uuids())
def test_float_cursor_round_trips_exactly(key: float, ident: uuid.UUID) -> None:
    cursor = SortCursor("relevance", key, ident)
    decoded = SortCursor.decode(cursor.encode(), "relevance")
    assert decoded.key == key
    assert decoded.id == ident


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@given(st.text(max_size=60))
def test_garbage_cursors_are_400(value: str) -> None:
    try:
        decoded = SortCursor.decode(value, "price_asc")
    except ValidationFailed as exc:
        details = exc.details
    else:
        details = None  # a rare random string that happens to be a valid cursor...
        # ...and then it must really spell that cursor: a decoder that answers garbage with some
        # default cursor fails here.
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        tag, key, ident = raw.split("|")
        assert (tag, int(key), uuid.UUID(ident)) == (decoded.sort, decoded.key, decoded.id)
    assert details in (None, {"cursor": "is invalid"})


GARBAGE = [
    "",
    "garbage!",
    "not base64 at all",
    _b64("price_asc"),
    _b64("price_asc|100"),
    _b64(f"price_asc|100|{uuid.UUID(int=1)}|extra"),
    _b64(f"price_asc|cheap|{uuid.UUID(int=1)}"),
    _b64("price_asc|100|not-a-uuid"),
    _b64(f"cheapest|100|{uuid.UUID(int=1)}"),
    _b64(f"relevance|nan|{uuid.UUID(int=1)}"),
    base64.urlsafe_b64encode(b"\xff\xfe|1|2").decode(),
]


@pytest.mark.parametrize("value", GARBAGE)
def test_each_kind_of_garbage_is_400(value: str) -> None:
    sort = "relevance" if value == GARBAGE[-2] else "price_asc"
    with pytest.raises(ValidationFailed) as raised:
        SortCursor.decode(value, sort)
    assert raised.value.details == {"cursor": "is invalid"}


def test_cursor_of_another_sort_is_400() -> None:
    cursor = SortCursor("price_asc", 100, uuid.uuid4()).encode()
    with pytest.raises(ValidationFailed):
        SortCursor.decode(cursor, "price_desc")


def test_tokens() -> None:
    assert tokens("Blue-Dream  OG_kush 3.5g!") == ["blue", "dream", "og", "kush", "3", "5g"]
    assert tokens("a b c d e f g h i j") == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert tokens("--- %% __") == []
    assert tokens("Café Crème") == ["café", "crème"]
    assert tsquery_text(["blue", "dream"]) == "'blue':* & 'dream':*"
    assert tsquery_text(["blue"], "CA") == "'CA~blue':*"
