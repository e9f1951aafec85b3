"""Ad attribution tokens (money-ads-analytics.md §2.5, §2.7): HS256 JWTs minted at serve time.

A cart keeps the raw tokens its buyer collected; checkout attributes each vendor order to the best store
token of its vendor and each line to the best product token of its product. Invalid tokens are dropped,
never an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

ALGORITHM = "HS256"
PLACEMENTS = frozenset({"hero", "store", "product"})
TARGET_TYPES = frozenset({"store", "product"})
EVENT_TYPES = frozenset({"impression", "click"})
CART_TOKEN_LIMIT = 50


class InvalidAdToken(ValueError):
    """The token is not one we minted, has expired, or is malformed."""


@dataclass(frozen=True)
class AdToken:
    """A verified token and its raw string (stored as given)."""

    raw: str
    token_id: uuid.UUID
    ad_id: uuid.UUID
    creative_id: uuid.UUID
    placement: str
    target_type: str
    target_id: uuid.UUID
    buyer_store_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    expires_at: datetime
    request_id: str
    bid_cents: int
    destination_url: str

    def rank(self) -> tuple[bool, datetime, uuid.UUID]:
        """Sort key, best last: a click beats an impression, then newer, then the larger token_id."""
        return (self.event_type == "click", self.occurred_at, self.token_id)


def _instant(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("timestamp without zone")
        return parsed.astimezone(UTC)
    raise ValueError("not a timestamp")


def _uuid(value: Any) -> uuid.UUID:
    parsed = uuid.UUID(str(value))
    if parsed.int == 0:
        raise ValueError("nil id")
    return parsed


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("blank")
    return value


def mint(secret: str, token: dict[str, Any]) -> str:
    """Sign a token payload (ids as strings, `occurred_at`/`expires_at` as datetimes)."""
    occurred, expires = token["occurred_at"], token["expires_at"]
    claims = {
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in token.items()},
        "occurred_at": occurred.astimezone(UTC).isoformat(),
        "expires_at": expires.astimezone(UTC).isoformat(),
        "iat": int(occurred.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": str(token["token_id"]),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def parse(raw: str, secret: str) -> AdToken:
    """Verify signature, algorithm and expiry, then every field; InvalidAdToken otherwise."""
    try:
        claims = jwt.decode(raw, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        bid = claims["bid_cents"]
        token = AdToken(
            raw=raw,
            token_id=_uuid(claims["token_id"]),
            ad_id=_uuid(claims["ad_id"]),
            creative_id=_uuid(claims["creative_id"]),
            placement=_text(claims["placement"]),
            target_type=_text(claims["target_type"]),
            target_id=_uuid(claims["target_id"]),
            buyer_store_id=_uuid(claims["buyer_store_id"]),
            event_type=_text(claims["event_type"]),
            occurred_at=_instant(claims["occurred_at"]),
            expires_at=_instant(claims["expires_at"]),
            request_id=_text(claims["request_id"]),
            bid_cents=bid if isinstance(bid, int) and not isinstance(bid, bool) else -1,
            destination_url=_text(claims["destination_url"]),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidAdToken(str(exc)) from None
    if (
        token.placement not in PLACEMENTS
        or token.target_type not in TARGET_TYPES
        or token.event_type not in EVENT_TYPES
        or token.expires_at <= token.occurred_at
        or token.bid_cents < 0
    ):
        raise InvalidAdToken("invalid fields")
    return token


def for_buyer(raws: Iterable[str], secret: str, buyer_store_id: uuid.UUID) -> list[AdToken]:
    """The buyer's valid tokens, one per (event type, target, ad) keeping the best, best first, ≤ 50."""
    best: dict[tuple[str, str, uuid.UUID, uuid.UUID], AdToken] = {}
    for raw in raws:
        try:
            token = parse(raw, secret)
        except InvalidAdToken:
            continue
        if token.buyer_store_id != buyer_store_id:
            continue
        key = (token.event_type, token.target_type, token.target_id, token.ad_id)
        held = best.get(key)
        if held is None or token.rank() > held.rank():
            best[key] = token
    ranked = sorted(best.values(), key=AdToken.rank, reverse=True)
    return ranked[:CART_TOKEN_LIMIT]


def best_for(tokens: Iterable[AdToken], target_type: str, target_id: uuid.UUID) -> AdToken | None:
    """The best token pointing at this store or product, if any."""
    matching = [t for t in tokens if t.target_type == target_type and t.target_id == target_id]
    return max(matching, key=AdToken.rank, default=None)
