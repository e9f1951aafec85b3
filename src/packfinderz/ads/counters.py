"""Ad counters in Redis (platform.md §7): keys, the atomic impression and click scripts, reads.

Spend is kept in integer millicents: one impression of a CPM bid of `bid_cents` (cents per 1 000
impressions) costs exactly `bid_cents` millicents, so a daily budget of B cents holds B x 1 000
millicents and no rounding ever happens while counting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from redis.asyncio import Redis

COUNTER_TTL_SECONDS = 8 * 24 * 3600
DEDUPE_TTL_SECONDS = 600

ImpressionResult = Literal["counted", "duplicate", "over_budget"]

# KEYS: dedupe, impressions, spend. ARGV: bid (millicents per impression), budget (millicents),
# dedupe TTL, counter TTL. Returns 1 counted, 0 duplicate, 2 over budget. Dedupe, the budget check and
# both counters change in one script, so concurrent impressions (any number of api processes sharing
# this Redis) can never take the day's spend past the budget.
_IMPRESSION = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  return 0
end
local bid = tonumber(ARGV[1])
local spend = tonumber(redis.call('GET', KEYS[3]) or '0')
if spend + bid > tonumber(ARGV[2]) then
  return 2
end
redis.call('INCR', KEYS[2])
redis.call('INCRBY', KEYS[3], bid)
for i = 2, 3 do
  if redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[4])
  end
end
return 1
"""

# KEYS: dedupe, clicks. ARGV: dedupe TTL, counter TTL. Returns 1 counted, 0 duplicate.
_CLICK = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[2])
if redis.call('TTL', KEYS[2]) < 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
"""

_IMPRESSION_RESULTS: dict[int, ImpressionResult] = {0: "duplicate", 1: "counted", 2: "over_budget"}


def day_key(day: date) -> str:
    """The UTC day as it appears in counter keys (`YYYYMMDD`)."""
    return day.strftime("%Y%m%d")


def imps_key(ad_id: uuid.UUID, day: date) -> str:
    return f"pf:ads:imps:{ad_id}:{day_key(day)}"


def clicks_key(ad_id: uuid.UUID, day: date) -> str:
    return f"pf:ads:clicks:{ad_id}:{day_key(day)}"


def spend_key(ad_id: uuid.UUID, day: date) -> str:
    return f"pf:ads:spend:{ad_id}:{day_key(day)}"


def imp_dedupe_key(request_id: str, ad_id: uuid.UUID, placement: str) -> str:
    return f"pf:ads:impdedupe:{request_id}:{ad_id}:{placement}"


def click_dedupe_key(request_id: str, ad_id: uuid.UUID) -> str:
    return f"pf:ads:clickdedupe:{request_id}:{ad_id}"


def fits(spend_millicents: int, bid_cents: int, daily_budget_cents: int) -> bool:
    """Whether one more impression fits the day's budget (the serve-time hard stop of §2.4)."""
    return daily_budget_cents > 0 and spend_millicents + bid_cents <= daily_budget_cents * 1000


async def record_impression(
    redis: Redis,
    *,
    request_id: str,
    ad_id: uuid.UUID,
    placement: str,
    bid_cents: int,
    daily_budget_cents: int,
    day: date,
) -> ImpressionResult:
    """Count one impression atomically (dedupe, budget check, counters); RedisError propagates."""
    script = redis.register_script(_IMPRESSION)
    outcome = await script(
        keys=[imp_dedupe_key(request_id, ad_id, placement), imps_key(ad_id, day), spend_key(ad_id, day)],
        args=[bid_cents, daily_budget_cents * 1000, DEDUPE_TTL_SECONDS, COUNTER_TTL_SECONDS],
    )
    return _IMPRESSION_RESULTS[int(outcome)]


async def record_click(redis: Redis, *, request_id: str, ad_id: uuid.UUID, day: date) -> bool:
    """Count one click unless this request's click was counted already; RedisError propagates."""
    script = redis.register_script(_CLICK)
    outcome = await script(
        keys=[click_dedupe_key(request_id, ad_id), clicks_key(ad_id, day)],
        args=[DEDUPE_TTL_SECONDS, COUNTER_TTL_SECONDS],
    )
    return int(outcome) == 1


def _int(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bytes):
        value = value.decode()
    return int(str(value))


async def spends(redis: Redis, ad_ids: Sequence[uuid.UUID], day: date) -> dict[uuid.UUID, int]:
    """Each ad's spend (millicents) on a UTC day; one MGET."""
    if not ad_ids:
        return {}
    values = await redis.mget([spend_key(a, day) for a in ad_ids])
    return {a: _int(v) for a, v in zip(ad_ids, values, strict=True)}


@dataclass(frozen=True)
class DayCounters:
    """One ad's counters of one UTC day."""

    impressions: int = 0
    clicks: int = 0
    spend_millicents: int = 0

    @property
    def empty(self) -> bool:
        return self.impressions == 0 and self.clicks == 0 and self.spend_millicents == 0


async def day_counters(redis: Redis, ad_ids: Sequence[uuid.UUID], day: date) -> dict[uuid.UUID, DayCounters]:
    """Impressions, clicks and spend of each ad on a UTC day; one MGET."""
    if not ad_ids:
        return {}
    keys = []
    for ad_id in ad_ids:
        keys += [imps_key(ad_id, day), clicks_key(ad_id, day), spend_key(ad_id, day)]
    values = await redis.mget(keys)
    return {
        ad_id: DayCounters(_int(values[3 * i]), _int(values[3 * i + 1]), _int(values[3 * i + 2]))
        for i, ad_id in enumerate(ad_ids)
    }
