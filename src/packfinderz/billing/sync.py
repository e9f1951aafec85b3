"""The subscription state machine's one owner (money-ads-analytics.md §1.4, §1.6, §1.7): provider JSON →
row mapping, the upsert every sync path uses (GET, create, webhook, simulation, reconcile), and the
invoice → charge writer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.billing.flag import apply_flag_rule
from packfinderz.models.billing import LIVE_STATUSES, BillingPlan, Charge, Subscription
from packfinderz.models.identity import Store

log = structlog.get_logger("billing")

_STATUS = {
    "PENDING": "trialing",
    "ACTIVE": "active",
    "PAUSED": "paused",
    "SUSPENDED": "paused",
    "CANCELED": "canceled",
    "CANCELLED": "canceled",
    "DEACTIVATED": "canceled",
    "COMPLETED": "canceled",
}


def parse_moment(value: Any) -> datetime | None:
    """RFC 3339 or `YYYY-MM-DD` (midnight UTC) → aware datetime; anything else → None."""
    if not value or not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def map_status(
    provider_status: Any, charged_through: datetime | None, previous: str | None, grace_days: int, today: date
) -> str:
    """Provider status → ours; ACTIVE becomes past_due / unpaid as the paid-through date recedes."""
    key = str(provider_status or "").upper().replace("-", "_").replace(" ", "_")
    mapped = _STATUS.get(key)
    if mapped is None:
        log.warning("billing.unknown_status", provider_status=key)
        return previous or "incomplete"
    if mapped == "active" and charged_through is not None:
        paid_through = charged_through.date()
        if paid_through + timedelta(days=grace_days) < today:
            return "unpaid"
        if paid_through < today:
            return "past_due"
    return mapped


@dataclass
class Mapped:
    """Subscription columns read from the provider's JSON."""

    values: dict[str, Any]
    provider_customer_id: str | None


def map_subscription(data: dict[str, Any], previous: str | None, grace_days: int) -> Mapped:
    """The columns of §1.4's mapping (status, period, pending actions, plan variation)."""
    charged_through = parse_moment(data.get("charged_through_date"))
    status = map_status(data.get("status"), charged_through, previous, grace_days, datetime.now(UTC).date())
    values: dict[str, Any] = {
        "status": status,
        "price_id": data.get("plan_variation_id"),
        "current_period_start": parse_moment(data.get("start_date")),
        "current_period_end": charged_through,
        "canceled_at": parse_moment(data.get("canceled_date")),
        "cancel_at_period_end": False,
        "pause_effective_at": None,
        "resume_effective_at": None,
        "provider_card_id": data.get("card_id"),
    }
    for action in data.get("actions") or []:
        kind = str(action.get("type", "")).upper()
        when = parse_moment(action.get("effective_date"))
        if kind == "CANCEL":
            values["cancel_at_period_end"] = True
            values["canceled_at"] = when
        elif kind == "PAUSE":
            values["pause_effective_at"] = when
        elif kind == "RESUME":
            values["resume_effective_at"] = when
    if status == "paused":
        values["paused_at"] = parse_moment(data.get("paused_date")) or datetime.now(UTC)
    else:
        values["paused_at"] = None
    return Mapped(values, data.get("customer_id"))


@dataclass
class SyncResult:
    subscription: Subscription | None
    flag_changed: bool
    unknown_store: bool = False


async def _plan_id(session: AsyncSession, plan_variation_id: str | None) -> str | None:
    if not plan_variation_id:
        return None
    found = await session.execute(
        select(BillingPlan.id).where(BillingPlan.provider_plan_id == plan_variation_id)
    )
    return found.scalar_one_or_none()


async def store_for_customer(session: AsyncSession, customer_id: str | None) -> uuid.UUID | None:
    """The vendor store linked to a provider customer."""
    if not customer_id:
        return None
    found = await session.execute(
        select(Store.id).where(Store.billing_customer_id == customer_id).order_by(Store.created_at).limit(1)
    )
    return found.scalar_one_or_none()


async def upsert_subscription(
    session: AsyncSession,
    data: dict[str, Any],
    grace_days: int,
    *,
    store_id: uuid.UUID | None = None,
) -> SyncResult:
    """Save the provider's view of one subscription and apply the flag rule (caller's transaction).

    The row is found by provider id (locked); a new row needs the store (given, or the one whose
    billing customer is the subscription's). A row that would make a second live subscription for the
    store is stored as ended history instead of breaking the one-live rule.
    """
    provider_id = str(data["id"])
    row = (
        await session.execute(
            select(Subscription).where(Subscription.provider_subscription_id == provider_id).with_for_update()
        )
    ).scalar_one_or_none()
    mapped = map_subscription(data, row.status if row else None, grace_days)
    plan_id = await _plan_id(session, mapped.values["price_id"])
    if row is None:
        store_id = store_id or await store_for_customer(session, mapped.provider_customer_id)
        if store_id is None:
            return SyncResult(None, False, unknown_store=True)
        await session.execute(select(Store.id).where(Store.id == store_id).with_for_update())
        if mapped.values["status"] in LIVE_STATUSES:
            other = (
                await session.execute(
                    select(Subscription.id).where(
                        Subscription.store_id == store_id, Subscription.status.in_(LIVE_STATUSES)
                    )
                )
            ).scalar_one_or_none()
            if other is not None:
                log.warning("billing.second_live_subscription", store_id=str(store_id),
                            provider_object_id=provider_id)  # fmt: skip
                mapped.values["status"] = "incomplete_expired"
        row = Subscription(
            store_id=store_id,
            provider_subscription_id=provider_id,
            provider_customer_id=mapped.provider_customer_id,
            billing_plan_id=plan_id,
            **mapped.values,
        )
        session.add(row)
    else:
        for name, value in mapped.values.items():
            setattr(row, name, value)
        if plan_id is not None:
            row.billing_plan_id = plan_id
        row.updated_at = datetime.now(UTC)
    await session.flush()
    changed = await apply_flag_rule(session, row.store_id)
    log.info("billing.subscription_synced", operation="sync",
             provider_object_id=provider_id, status=row.status, store_id=str(row.store_id))  # fmt: skip
    return SyncResult(row, changed)


def invoice_amount(invoice: dict[str, Any]) -> int:
    """`payment_requests[0].computed_amount_money.amount`, else `total_completed_amount_money`."""
    requests = invoice.get("payment_requests") or []
    if requests:
        money = requests[0].get("computed_amount_money") or {}
        if money.get("amount") is not None:
            return int(money["amount"])
    money = invoice.get("total_completed_amount_money") or {}
    return int(money.get("amount") or 0)


async def record_charge(
    session: AsyncSession,
    *,
    store_id: uuid.UUID,
    provider_charge_id: str,
    type_: str,
    status: str,
    amount_cents: int,
    subscription_id: uuid.UUID | None = None,
    payment_method_id: uuid.UUID | None = None,
    description: str | None = None,
    failure_reason: str | None = None,
    billed_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Charge:
    """Upsert a charge by provider id: pending → succeeded|failed, failed → succeeded; succeeded stays."""
    values = {
        "store_id": store_id,
        "type": type_,
        "status": status,
        "amount_cents": amount_cents,
        "subscription_id": subscription_id,
        "payment_method_id": payment_method_id,
        "provider_charge_id": provider_charge_id,
        "description": description,
        "failure_reason": failure_reason if status == "failed" else None,
        "billed_at": billed_at,
        "details": details or {},
    }
    statement = insert(Charge).values(**values)
    allowed = (Charge.status == "pending") | (
        (Charge.status == "failed") & (statement.excluded.status == "succeeded")
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Charge.provider_charge_id],
        set_={
            "status": statement.excluded.status,
            "amount_cents": statement.excluded.amount_cents,
            "failure_reason": statement.excluded.failure_reason,
            "billed_at": statement.excluded.billed_at,
            "updated_at": datetime.now(UTC),
        },
        where=allowed,
    )
    await session.execute(statement)
    found: Charge = (
        await session.execute(
            select(Charge)
            .where(Charge.provider_charge_id == provider_charge_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return found


async def record_invoice(
    session: AsyncSession, invoice: dict[str, Any], *, paid: bool, at: datetime, failure_reason: str | None
) -> Charge | None:
    """The subscription charge of an invoice event; None when the subscription's store is unknown."""
    subscription_provider_id = invoice.get("subscription_id")
    if not subscription_provider_id or not invoice.get("id"):
        return None
    row = (
        await session.execute(
            select(Subscription).where(Subscription.provider_subscription_id == str(subscription_provider_id))
        )
    ).scalar_one_or_none()
    store_id = (
        row.store_id
        if row
        else await store_for_customer(session, (invoice.get("primary_recipient") or {}).get("customer_id"))
    )
    if store_id is None:
        return None
    return await record_charge(
        session,
        store_id=store_id,
        provider_charge_id=str(invoice["id"]),
        type_="subscription",
        status="succeeded" if paid else "failed",
        amount_cents=invoice_amount(invoice),
        subscription_id=row.id if row else None,
        description="Subscription",
        failure_reason=failure_reason,
        billed_at=at if paid else None,
    )
