"""Proof: a scripted month of marketplace activity, placed through the API and fed to the analytics
handler from the outbox (each event moved to its scripted day), gives dashboards whose every KPI, series
bucket and top list equals what this test computes on its own from the orders, lines and ledger tables;
delivering every event again, twice and in reverse order, changes nothing."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.ads import tokens
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.analytics.conftest import deliver, deps_of, outbox, report, uid, warehouse_rows
from tests.fixtures.ads import create_ad
from tests.fixtures.catalog import create_product
from tests.fixtures.checkout import SHIPPING, checkout, line, market, quote, verified_buyer
from tests.fixtures.db import rows
from tests.fixtures.factories import Account, set_subscription_active
from tests.fixtures.orders import (
    Agent,
    agent_post,
    decide,
    expire_order,
    fulfil_all,
    new_admin,
    new_agent,
    ok,
    post,
)

TZ = ZoneInfo("America/Chicago")


@dataclass
class Script:
    """What happened, as the test itself records it from the database (no warehouse involved)."""

    orders: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # vendor_orders row at creation
    lines: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    created: dict[uuid.UUID, datetime] = field(default_factory=dict)  # scripted creation instant
    terminated: dict[uuid.UUID, datetime] = field(default_factory=dict)
    revenue: list[tuple[uuid.UUID, datetime, int]] = field(default_factory=list)  # ledger, scripted instant
    shifts: dict[tuple[str, uuid.UUID], timedelta] = field(default_factory=dict)  # (event type, key) → shift

    def shift_of(self, envelope: dict[str, Any]) -> timedelta:
        data = envelope["data"]
        key = (
            data.get("checkout_group_id")
            if envelope["event_type"] == "checkout_converted"
            else data["order_id"]
        )
        return self.shifts.get((envelope["event_type"], uid(key)), timedelta(0))


async def snapshot(db: Database, script: Script, order_ids: list[uuid.UUID], days_ago: int) -> None:
    """Record the orders as checkout created them, and when the script says they were created."""
    delta = -timedelta(days=days_ago)
    for order_id in order_ids:
        [order] = await rows(db, "SELECT * FROM vendor_orders WHERE id = :id", id=order_id)
        script.orders[order_id] = order
        script.lines[order_id] = await rows(
            db, "SELECT * FROM order_line_items WHERE order_id = :id ORDER BY position", id=order_id
        )
        script.created[order_id] = order["created_at"] + delta
        if days_ago:
            script.shifts[("checkout_converted", order["checkout_group_id"])] = delta


async def ledger_entry(db: Database, script: Script, order_id: uuid.UUID, type_: str, days_ago: int) -> None:
    [entry] = await rows(
        db, "SELECT * FROM ledger_events WHERE order_id = :id AND type = :t", id=order_id, t=type_
    )
    delta = -timedelta(days=days_ago)
    script.revenue.append((order_id, entry["created_at"] + delta, int(entry["amount_cents"])))
    event = "cash_collected" if type_ == "cash_collected" else "order_paid"
    script.shifts[(event, order_id)] = delta


async def buy(
    client: httpx.AsyncClient,
    db: Database,
    script: Script,
    buyer: Account,
    lines: list[dict[str, Any]],
    *,
    days_ago: int,
    postal_code: str,
    ad_tokens: list[str] | None = None,
) -> list[dict[str, Any]]:
    extra: dict[str, Any] = {"ad_tokens": ad_tokens} if ad_tokens else {}
    cart = await quote(client, buyer, *lines, **extra)
    result = await checkout(
        client, buyer, cart["id"], shipping_address={**SHIPPING, "postal_code": postal_code}
    )
    orders: list[dict[str, Any]] = result["vendor_orders"]
    await snapshot(db, script, [uid(o["order_id"]) for o in orders], days_ago)
    return orders


async def collect(client: httpx.AsyncClient, agent: Agent, vendor: Account, order: dict[str, Any]) -> None:
    """Accept, fulfil, deliver and collect the cash of an order."""
    order_id = order["order_id"]
    await ok(await decide(client, vendor, order_id, "accept"))
    await fulfil_all(client, vendor, order)
    for action in ("claim", "pickup", "deliver", "cash-collected"):
        await ok(await agent_post(client, agent, order_id, action))


def half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def label(moment: datetime, bucket: str) -> str:
    local = moment.astimezone(TZ)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    day = local.date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()


def labels(start: datetime, end: datetime, bucket: str) -> list[str]:
    """Every bucket label from start to end, walking in small steps (independent of the service's walk)."""
    found: list[str] = []
    moment = start
    while moment < end:
        name = label(moment, bucket)
        if name not in found:
            found.append(name)
        moment += timedelta(minutes=30)
    last = label(end - timedelta(microseconds=1), bucket)
    if last not in found:
        found.append(last)
    return found


def top5(values: dict[tuple[str, str | None], int], with_id: bool = False) -> list[dict[str, Any]]:
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))[:5]
    return [{"label": k[0], "value": v, **({"id": k[1]} if with_id else {})} for k, v in ordered]


def expected(
    script: Script, store: uuid.UUID, perspective: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The dashboard computed from the script's own records (orders, lines, ledger)."""
    # Hours up to 48 elapsed hours; days up to 90 calendar days in the zone; weeks beyond.
    elapsed = end.astimezone(UTC) - start.astimezone(UTC)
    local_days = end.astimezone(TZ).replace(tzinfo=None) - start.astimezone(TZ).replace(tzinfo=None)
    bucket = (
        "hour" if elapsed <= timedelta(hours=48) else "day" if local_days <= timedelta(days=90) else "week"
    )
    scope = "vendor_store_id" if perspective == "vendor" else "buyer_store_id"
    other = "buyer_store_id" if perspective == "vendor" else "vendor_store_id"
    mine = {oid: o for oid, o in script.orders.items() if o[scope] == store}
    names = labels(start, end, bucket)
    series: dict[str, dict[str, int]] = {
        s: dict.fromkeys(names, 0)
        for s in ("orders", "gross_revenue_cents", "net_revenue_cents", "discounts_cents")
    }
    products: dict[tuple[str, str | None], int] = defaultdict(int)
    categories: dict[tuple[str, str | None], int] = defaultdict(int)
    classifications: dict[tuple[str, str | None], int] = defaultdict(int)
    zips: dict[tuple[str, str | None], int] = defaultdict(int)
    orders = discounts = 0
    for oid, order in mine.items():
        moment = script.created[oid]
        if not start <= moment < end:
            continue
        orders += 1
        discounts += order["discounts_cents"]
        series["orders"][label(moment, bucket)] += 1
        series["discounts_cents"][label(moment, bucket)] += order["discounts_cents"]
        zips[(order["shipping_address"]["postal_code"], None)] += order["total_cents"]
        for item in script.lines[oid]:
            products[(item["name"], str(item["product_id"]))] += item["total_cents"]
            categories[(item["category"], None)] += item["total_cents"]
            if item["classification"]:
                classifications[(item["classification"], None)] += item["total_cents"]
    earliest: dict[uuid.UUID, tuple[datetime, int]] = {}
    for oid, moment, amount in script.revenue:
        if oid in mine and (oid not in earliest or moment < earliest[oid][0]):
            earliest[oid] = (moment, amount)
    gross = paid_orders = 0
    first_revenue: dict[uuid.UUID, datetime] = {}
    in_range: set[uuid.UUID] = set()
    for oid, (moment, amount) in earliest.items():
        party = mine[oid][other]
        if moment < end:
            first_revenue[party] = min(first_revenue.get(party, moment), moment)
        if start <= moment < end:
            gross += amount
            paid_orders += 1
            in_range.add(party)
            series["gross_revenue_cents"][label(moment, bucket)] += amount
            series["net_revenue_cents"][label(moment, bucket)] += amount
    terminated = sum(1 for oid, m in script.terminated.items() if oid in mine and start <= m < end)
    return {
        "kpis": {
            "orders": orders,
            "terminated_orders": terminated,
            "gross_revenue_cents": gross,
            "net_revenue_cents": gross,
            "discounts_cents": discounts,
            "aov_cents": half_up(gross, paid_orders) if paid_orders else 0,
            "new_customers": sum(1 for p in in_range if first_revenue[p] >= start),
            "returning_customers": sum(1 for p in in_range if first_revenue[p] < start),
        },
        "series": {k: [{"date": d, "value": v} for d, v in s.items()] for k, s in series.items()},
        "top": {
            "top_products": top5(products, with_id=True),
            "top_categories": top5(categories),
            "top_classifications": top5(classifications),
            "top_zips": top5(zips),
        },
        "bucket": bucket,
    }


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["range"]["bucket"] == want["bucket"]
    assert got["kpis"] == want["kpis"]
    assert got["series"] == want["series"]
    assert got["top"] == want["top"]


async def test_a_scripted_month_matches_the_orders_and_ledger(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    m = await market(client, db)
    b1, vendor_a, vendor_v = m.buyer, m.vendor_a, m.vendor_b
    b2 = await verified_buyer(client, db)
    assert b1.store_id is not None
    assert b2.store_id is not None
    assert vendor_a.store_id is not None
    assert vendor_v.store_id is not None
    agent = await new_agent(client, db, settings)
    admin = await new_admin(client, db, settings)
    a1 = await create_product(
        client, vendor_a, title="Alpha Flower", category="flower", classification="sativa", price_cents=1000
    )
    a2 = await create_product(
        client, vendor_a, title="Alpha Gummies", category="edible", classification="indica", price_cents=2500
    )
    v1 = await create_product(
        client, vendor_v, title="Vee Cart", category="cart", classification="hybrid", price_cents=4000
    )
    script = Script()

    # Day -40 (before a 30-day range): B1 from A, cash collected on day -38, paid out on day -5.
    [o1] = await buy(client, db, script, b1, [line(a1, 2)], days_ago=40, postal_code="73102")
    await collect(client, agent, vendor_a, o1)
    await ledger_entry(db, script, uid(o1["order_id"]), "cash_collected", 38)
    await ok(await post(client, f"/api/admin/v1/orders/{o1['order_id']}/confirm-payout", admin))
    await ledger_entry(db, script, uid(o1["order_id"]), "vendor_payout", 5)

    # Day -25: B1 from A and V in one checkout; A collected day -20 and paid day -10, V collected day -18.
    o2 = await buy(
        client, db, script, b1, [line(a1, 3), line(a2, 1), line(v1, 1)], days_ago=25, postal_code="73102"
    )
    o2a = next(o for o in o2 if o["vendor_store_id"] == str(vendor_a.store_id))
    o2v = next(o for o in o2 if o["vendor_store_id"] == str(vendor_v.store_id))
    await collect(client, agent, vendor_a, o2a)
    await ledger_entry(db, script, uid(o2a["order_id"]), "cash_collected", 20)
    await ok(await post(client, f"/api/admin/v1/orders/{o2a['order_id']}/confirm-payout", admin))
    await ledger_entry(db, script, uid(o2a["order_id"]), "vendor_payout", 10)
    await collect(client, agent, vendor_v, o2v)
    await ledger_entry(db, script, uid(o2v["order_id"]), "cash_collected", 18)

    # Day -15: B2 from A through an ad click (store token); collected day -3.
    ad = await create_ad(client, vendor_a)
    ad_id, token_id = uid(ad["id"]), uuid.uuid4()
    now = datetime.now(UTC)
    raw = tokens.mint(
        settings.effective_ads_token_secret,
        {
            "token_id": token_id,
            "ad_id": ad_id,
            "creative_id": uuid.uuid4(),
            "placement": "store",
            "target_type": "store",
            "target_id": vendor_a.store_id,
            "buyer_store_id": b2.store_id,
            "event_type": "click",
            "occurred_at": now,
            "expires_at": now + timedelta(days=30),
            "request_id": "req-1",
            "bid_cents": 150,
            "destination_url": "https://example.com/a",
        },
    )
    [o3] = await buy(client, db, script, b2, [line(a2, 4)], days_ago=15, postal_code="74103", ad_tokens=[raw])
    await collect(client, agent, vendor_a, o3)
    await ledger_entry(db, script, uid(o3["order_id"]), "cash_collected", 3)

    # Day -12: B1 from A, canceled on day -11.
    [o4] = await buy(client, db, script, b1, [line(a1, 1)], days_ago=12, postal_code="73102")
    await ok(await post(client, f"/api/v1/orders/{o4['order_id']}/cancel", b1.headers))
    [row4] = await rows(db, "SELECT canceled_at FROM vendor_orders WHERE id = :id", id=uid(o4["order_id"]))
    script.terminated[uid(o4["order_id"])] = row4["canceled_at"] - timedelta(days=11)
    script.shifts[("order_canceled", uid(o4["order_id"]))] = -timedelta(days=11)

    # Day -8: B2 from V, expired on day -2, then retried (the new order is created now).
    [o5] = await buy(client, db, script, b2, [line(v1, 2)], days_ago=8, postal_code="74103")
    await expire_order(db, o5["order_id"])
    [row5] = await rows(db, "SELECT expired_at FROM vendor_orders WHERE id = :id", id=uid(o5["order_id"]))
    script.terminated[uid(o5["order_id"])] = row5["expired_at"] - timedelta(days=2)
    script.shifts[("order_expired", uid(o5["order_id"]))] = -timedelta(days=2)
    retried = await post(client, f"/api/v1/orders/{o5['order_id']}/retry", b2.headers)
    assert retried.status_code == 201, retried.text
    o6 = uid(retried.json()["data"]["order_id"])
    await snapshot(db, script, [o6], 0)

    # The warehouse, fed from the outbox.
    deps = deps_of(settings, redis)
    envelopes = await outbox(db)
    assert {e["event_type"] for e in envelopes} == {
        "checkout_converted",
        "cash_collected",
        "order_paid",
        "order_canceled",
        "order_expired",
        "order_retried",
    }
    await deliver(db, deps, envelopes, script.shift_of)
    written = await warehouse_rows(db)
    assert len(written) == len(script.orders) + len(script.revenue) + len(script.terminated)

    # Every dashboard equals the independent computation.
    await set_subscription_active(db, vendor_a.store_id, True)
    now = datetime.now(UTC)
    cases: list[tuple[Account, str, dict[str, str]]] = [
        (vendor_a, "vendor", {"preset": "30d"}),
        (vendor_a, "vendor", {"preset": "7d"}),
        (vendor_a, "vendor", {"preset": "90d"}),
        (vendor_v, "vendor", {}),
        (b1, "buyer", {"preset": "90d"}),
        (b2, "buyer", {"preset": "30d"}),
        (
            b1,
            "buyer",
            {
                "from": (now - timedelta(days=21)).astimezone(TZ).date().isoformat(),
                "to": now.astimezone(TZ).date().isoformat(),
            },
        ),
        (vendor_a, "vendor", {"from": (now - timedelta(days=100)).isoformat(), "to": now.isoformat()}),
        (
            vendor_a,
            "vendor",
            {"from": (now - timedelta(hours=47)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
        ),
    ]
    answers = []
    for account, perspective, params in cases:
        got = await report(client, account.headers, **params)
        start = datetime.fromisoformat(got["range"]["from"])
        end = datetime.fromisoformat(got["range"]["to"])
        assert account.store_id is not None
        check(got, expected(script, account.store_id, perspective, start, end))
        answers.append((account, params, got))
    # The 30-day view of vendor A, spelled out: o1's revenue is before the range (its payout inside it
    # adds nothing), o2a and o3 are in; B1 returns, B2 is new; o4 counts as placed and terminated.
    a30 = answers[0][2]["kpis"]
    total = {oid: script.orders[oid]["total_cents"] for oid in script.orders}
    assert a30["gross_revenue_cents"] == total[uid(o2a["order_id"])] + total[uid(o3["order_id"])]
    assert (a30["orders"], a30["terminated_orders"]) == (3, 1)
    assert (a30["new_customers"], a30["returning_customers"]) == (1, 1)
    vendor_view = await report(client, vendor_a.headers, "/api/v1/vendor/analytics", preset="30d")
    assert vendor_view == answers[0][2] | {"range": vendor_view["range"]}

    # The ad conversion: one row for the attributed order, revenue = its total; the order row names the ad.
    [conversion] = await warehouse_rows(db, "ad_events")
    assert (conversion["type"], conversion["ad_id"], conversion["attributed_order_id"]) == (
        "conversion",
        ad_id,
        uid(o3["order_id"]),
    )
    assert conversion["revenue_cents"] == total[uid(o3["order_id"])]
    assert (conversion["vendor_store_id"], conversion["buyer_store_id"]) == (vendor_a.store_id, b2.store_id)
    attributed = [r for r in written if r["attributed_ad_id"] is not None]
    assert [r["order_id"] for r in attributed] == [uid(o3["order_id"])]
    # …and the ad's own page counts it (§3.5), on the UTC day of the (scripted) conversion.
    detail = await client.get(
        f"/api/v1/vendor/ads/{ad_id}", params={"preset": "30d"}, headers=vendor_a.headers
    )
    assert detail.status_code == 200, detail.text
    metrics = detail.json()["data"]["analytics"]["metrics"]
    assert (metrics["conversions"], metrics["revenue_cents"]) == (1, total[uid(o3["order_id"])])
    day = script.created[uid(o3["order_id"])].astimezone(UTC).date().isoformat()
    [point] = [p for p in detail.json()["data"]["analytics"]["series"] if p["conversions"]]
    assert (point["date"], point["revenue_cents"]) == (day, total[uid(o3["order_id"])])

    # Redelivery: the same events twice, newest first, into an empty warehouse → the same rows and answers.
    before = await warehouse_rows(db), await warehouse_rows(db, "ad_events")
    async with db.transaction() as session:
        await session.execute(text("TRUNCATE analytics.marketplace_events, analytics.ad_events"))
    await deliver(db, deps, list(reversed(envelopes)) * 2, script.shift_of)
    await deliver(db, deps, envelopes, script.shift_of)
    assert (await warehouse_rows(db), await warehouse_rows(db, "ad_events")) == before
    for account, params, got in answers:
        again = await report(client, account.headers, **params)
        assert (again["kpis"], again["series"], again["top"]) == (got["kpis"], got["series"], got["top"])
