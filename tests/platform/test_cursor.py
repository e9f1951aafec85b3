"""Cursors are opaque base64url strings; anything outside the declared alphabet is a 400 (issue #18)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from packfinderz.kit.errors import ValidationFailed
from packfinderz.kit.pagination import CURSOR_MAX_LENGTH, CURSOR_PATTERN, Cursor


def test_an_issued_cursor_matches_the_declared_pattern_and_round_trips() -> None:
    cursor = Cursor(datetime(2026, 12, 7, 15, 0, tzinfo=UTC), uuid.uuid4())
    encoded = cursor.encode()
    assert re.match(CURSOR_PATTERN, encoded)
    assert len(encoded) <= CURSOR_MAX_LENGTH
    assert Cursor.decode(encoded) == cursor


@pytest.mark.parametrize("suffix", ["!", "=", " ", "/", "+"])
def test_a_cursor_outside_the_alphabet_is_invalid(suffix: str) -> None:
    # base64 decoding alone would skip the stray character and accept the cursor
    valid = Cursor(datetime(2026, 12, 7, 15, 0, tzinfo=UTC), uuid.uuid4()).encode()
    with pytest.raises(ValidationFailed) as refused:
        Cursor.decode(valid + suffix)
    assert refused.value.details == {"cursor": "is invalid"}


def test_an_overlong_cursor_is_invalid() -> None:
    with pytest.raises(ValidationFailed):
        Cursor.decode("A" * (CURSOR_MAX_LENGTH + 1))
