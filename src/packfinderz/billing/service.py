"""Billing rules (money-ads-analytics.md §1.3 to §1.8): plans, payment methods, subscriptions, charges,
customers. Services take the request's session and only flush; provider calls happen outside our
transaction (a remote system), so every provider create is compensated when our write fails."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.billing import sync
from packfinderz.billing.flag import apply_flag_rule
from packfinderz.billing.provider import BillingProvider, CustomerDetails, provider_key
from packfinderz.billing.schemas import (
    CardIn,
    ChargeDTO,
    PaymentMethodDTO,
    PlanDTO,
    PlanFields,
    PlanIn,
    SubscribeIn,
    SubscriptionDTO,
    charge_dto,
    payment_method_dto,
    plan_dto,
    subscription_dto,
)
from packfinderz.config import Settings
from packfinderz.events.outbox import Actor
from packfinderz.kit.errors import (
    AppError,
    Conflict,
    DependencyError,
    NotFound,
    StateConflict,
    ValidationFailed,
)
from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.billing import (
    ENTITLED_STATUSES,
    LIVE_STATUSES,
    BillingPlan,
    Charge,
    PaymentMethod,
    Subscription,
)
from packfinderz.models.identity import Store, User

log = structlog.get_logger("billing")

NOT_LINKED = "store is not linked to a billing customer"


# --- customers (§1.8) ------------------------------------------------------------------------------


def _reference_part(value: str) -> str:
    lowered = value.strip().lower()
    dashed = re.sub(r"[\s_.\-]", "-", lowered)
    return re.sub(r"[^a-z0-9-]", "", dashed) or "pf"


def registration_reference(email: str, company: str) -> str:
    """`pf:register:<email>:<company>`, each part lowercased, separators → `-`, others dropped."""
    return f"pf:register:{_reference_part(email)}:{_reference_part(company)}"


def _store_address(store: Store) -> dict[str, Any]:
    return {
        "line1": store.address_line1,
        "line2": store.address_line2,
        "city": store.address_city,
        "state": store.address_state,
        "postal_code": store.address_postal_code,
        "country": store.address_country or "US",
    }


async def link_registered_vendor(
    session: AsyncSession, provider: BillingProvider, store: Store, user: User
) -> str:
    """At vendor registration: ensure the provider customer and link it; a provider error propagates
    (503), so the registration's transaction rolls back."""
    reference = registration_reference(user.email, store.company_name)
    customer = await provider.ensure_customer(
        CustomerDetails(
            reference_id=reference,
            email=user.email,
            company=store.company_name,
            given_name=user.first_name,
            family_name=user.last_name,
            address=_store_address(store),
            phone=store.phone,
        ),
        provider_key("customer", reference),
    )
    store.billing_customer_id = customer.id
    await session.flush()
    return customer.id


async def repair_customer(
    session: AsyncSession, provider: BillingProvider, store_id: uuid.UUID
) -> tuple[str, bool]:
    """Admin repair: link the vendor store to its provider customer; (id, created)."""
    store = (
        await session.execute(select(Store).where(Store.id == store_id).with_for_update())
    ).scalar_one_or_none()
    if store is None:
        raise NotFound("store not found")
    if store.type != "vendor":
        raise ValidationFailed(details={"store_id": "must be a vendor store"})
    owner = await session.get(User, store.owner_user_id)
    assert owner is not None
    email = store.email or owner.email
    reference = registration_reference(owner.email, store.company_name)
    customer = await provider.ensure_customer(
        CustomerDetails(
            reference_id=reference,
            email=email,
            company=store.company_name,
            given_name=owner.first_name,
            family_name=owner.last_name,
            address=_store_address(store),
            phone=store.phone,
        ),
        provider_key("customer", reference),
    )
    store.billing_customer_id = customer.id
    await session.flush()
    return customer.id, customer.created


# --- plans (§1.3) ----------------------------------------------------------------------------------


def _plan_cursor(plan: BillingPlan) -> str:
    raw = json.dumps([plan.is_default, plan.test, plan.name, plan.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_plan_cursor(value: str) -> tuple[bool, bool, str, str]:
    try:
        padded = value + "=" * (-len(value) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        is_default, test, name, ident = decoded
        if not (isinstance(is_default, bool) and isinstance(test, bool)):
            raise ValueError
        return is_default, test, str(name), str(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(details={"cursor": "is invalid"}) from None


async def list_plans(
    session: AsyncSession,
    *,
    status: str | None,
    is_default: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[PlanDTO], str | None]:
    """Plans ordered `is_default DESC, test DESC, name ASC, id ASC` (plans are few: sorted in SQL, the
    cursor position applied to the ordered list)."""
    query = select(BillingPlan)
    if status is not None:
        query = query.where(BillingPlan.status == status)
    if is_default is not None:
        query = query.where(BillingPlan.is_default == is_default)
    query = query.order_by(
        BillingPlan.is_default.desc(), BillingPlan.test.desc(), BillingPlan.name, BillingPlan.id
    )
    plans = list((await session.execute(query)).scalars())
    if cursor is not None:
        after = _decode_plan_cursor(cursor)

        def key(p: BillingPlan) -> tuple[int, int, str, str]:
            return (-int(p.is_default), -int(p.test), p.name, p.id)

        position = (-int(after[0]), -int(after[1]), after[2], after[3])
        plans = [p for p in plans if key(p) > position]
    page = plans[:limit]
    next_cursor = _plan_cursor(page[-1]) if len(plans) > limit and page else None
    return [plan_dto(p) for p in page], next_cursor


async def get_plan(session: AsyncSession, plan_id: str, *, active_only: bool) -> PlanDTO:
    plan = await session.get(BillingPlan, plan_id)
    if plan is None or (active_only and plan.status != "active"):
        raise NotFound("plan not found")
    return plan_dto(plan)


async def _clear_other_defaults(session: AsyncSession, plan_id: str) -> None:
    await session.execute(
        update(BillingPlan)
        .where(BillingPlan.is_default, BillingPlan.id != plan_id)
        .values(is_default=False, updated_at=func.now())
    )


def _plan_values(body: PlanFields) -> dict[str, Any]:
    values = body.model_dump(exclude={"id"})
    values["ui"] = body.ui.model_dump(exclude_none=True)
    return values


async def _provider_plan_taken(session: AsyncSession, provider_plan_id: str, plan_id: str) -> None:
    other = await session.execute(
        select(BillingPlan.id).where(
            BillingPlan.provider_plan_id == provider_plan_id, BillingPlan.id != plan_id
        )
    )
    if other.scalar_one_or_none() is not None:
        raise Conflict("provider_plan_id is used by another plan")


async def create_plan(session: AsyncSession, body: PlanIn) -> PlanDTO:
    if await session.get(BillingPlan, body.id) is not None:
        raise Conflict("plan already exists")
    await _provider_plan_taken(session, body.provider_plan_id, body.id)
    values = _plan_values(body)
    if values["is_default"] and values["status"] != "active":
        raise ValidationFailed(details={"is_default": "only an active plan can be the default"})
    if values["is_default"]:
        await _clear_other_defaults(session, body.id)
    plan = BillingPlan(id=body.id, **values)
    session.add(plan)
    await session.flush()
    await session.refresh(plan)
    return plan_dto(plan)


async def update_plan(session: AsyncSession, plan_id: str, body: PlanFields) -> PlanDTO:
    plan = (
        await session.execute(select(BillingPlan).where(BillingPlan.id == plan_id).with_for_update())
    ).scalar_one_or_none()
    if plan is None:
        raise NotFound("plan not found")
    await _provider_plan_taken(session, body.provider_plan_id, plan_id)
    values = _plan_values(body)
    if values["is_default"] and values["status"] != "active":
        raise ValidationFailed(details={"is_default": "only an active plan can be the default"})
    if values["is_default"]:
        await _clear_other_defaults(session, plan_id)
    for name, value in values.items():
        setattr(plan, name, value)
    plan.updated_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(plan)
    return plan_dto(plan)


async def delete_plan(session: AsyncSession, plan_id: str) -> None:
    """Soft delete: `hidden` and not default (subscriptions keep pointing at it)."""
    plan = (
        await session.execute(select(BillingPlan).where(BillingPlan.id == plan_id).with_for_update())
    ).scalar_one_or_none()
    if plan is None:
        raise NotFound("plan not found")
    plan.status = "hidden"
    plan.is_default = False
    plan.updated_at = datetime.now(UTC)
    await session.flush()


# --- payment methods (§1.5) --------------------------------------------------------------------------


def _method_payload(row: PaymentMethod) -> dict[str, Any]:
    return {"card_brand": row.card_brand, "card_last4": row.card_last4, "is_default": row.is_default}


async def _lock_store(session: AsyncSession, store_id: uuid.UUID) -> Store:
    found: Store = (
        await session.execute(select(Store).where(Store.id == store_id).with_for_update())
    ).scalar_one()
    return found


async def add_card(
    session: AsyncSession,
    provider: BillingProvider,
    *,
    store: Store,
    actor: Actor,
    body: CardIn,
    http_key: str,
) -> PaymentMethodDTO:
    """Store a card at the provider, then in our table; our write failing disables the card (503)."""
    customer_id = store.billing_customer_id
    if not customer_id:
        raise StateConflict(NOT_LINKED)
    card = await provider.create_card(
        customer_id,
        body.source_id,
        provider_key("card", f"{store.id}:{http_key}"),
        cardholder_name=body.cardholder_name,
        verification_token=body.verification_token,
        billing_address=_store_address(store),
    )
    try:
        await _lock_store(session, store.id)
        existing = (
            await session.execute(select(PaymentMethod).where(PaymentMethod.provider_card_id == card.id))
        ).scalar_one_or_none()
        if existing is not None:
            if existing.store_id != store.id:
                raise Conflict("card belongs to another store")
            return payment_method_dto(existing)
        has_default = (
            await session.execute(
                select(func.count()).where(PaymentMethod.store_id == store.id, PaymentMethod.is_default)
            )
        ).scalar_one() > 0
        make_default = body.is_default or not has_default
        if make_default:
            await session.execute(
                update(PaymentMethod)
                .where(PaymentMethod.store_id == store.id, PaymentMethod.is_default)
                .values(is_default=False, updated_at=func.now())
            )
        row = PaymentMethod(
            store_id=store.id,
            provider_card_id=card.id,
            type="card",
            fingerprint=card.fingerprint,
            card_brand=card.card_brand,
            card_last4=card.card_last4,
            card_exp_month=card.card_exp_month,
            card_exp_year=card.card_exp_year,
            billing_details={
                "cardholder_name": card.cardholder_name,
                "billing_address": card.billing_address,
            },
            details={"provider": provider.name},
            is_default=make_default,
        )
        session.add(row)
        await session.flush()
        await session.refresh(row)
        await audit.record(
            session,
            action="billing.payment_method_added",
            target_type="payment_method",
            target_id=row.id,
            actor=actor,
            payload=_method_payload(row),
        )
    except DBAPIError as exc:
        log.error("billing.compensation", operation="disable_card", provider_object_id=card.id,
                  error=type(exc).__name__)  # fmt: skip
        await _compensate(provider.disable_card(card.id))
        raise DependencyError("database") from exc
    return payment_method_dto(row)


async def _compensate(call: Any) -> None:
    """Run a compensating provider call; its own failure is logged (the original error still wins)."""
    try:
        await call
    except AppError as exc:
        log.error("billing.compensation_failed", code=exc.code)


async def list_cards(
    session: AsyncSession, store_id: uuid.UUID, page: PageParams
) -> tuple[list[PaymentMethodDTO], str | None]:
    query = select(PaymentMethod).where(PaymentMethod.store_id == store_id)
    after = after_cursor_desc(PaymentMethod.created_at, PaymentMethod.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = list(
        (
            await session.execute(
                query.order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc()).limit(page.limit + 1)
            )
        ).scalars()
    )
    items, cursor = build_page(rows, page.limit)
    return [payment_method_dto(r) for r in items], cursor


async def _store_card(session: AsyncSession, store_id: uuid.UUID, method_id: uuid.UUID) -> PaymentMethod:
    row = (
        await session.execute(
            select(PaymentMethod)
            .where(PaymentMethod.id == method_id, PaymentMethod.store_id == store_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("payment method not found")
    return row


async def set_default(
    session: AsyncSession, store_id: uuid.UUID, method_id: uuid.UUID, is_default: bool
) -> PaymentMethodDTO:
    await _lock_store(session, store_id)
    row = await _store_card(session, store_id, method_id)
    if is_default and not row.is_default:
        await session.execute(
            update(PaymentMethod)
            .where(PaymentMethod.store_id == store_id, PaymentMethod.is_default)
            .values(is_default=False, updated_at=func.now())
        )
        await session.flush()
    row.is_default = is_default
    row.updated_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(row)
    return payment_method_dto(row)


async def delete_card(
    session: AsyncSession, provider: BillingProvider, store_id: uuid.UUID, method_id: uuid.UUID, actor: Actor
) -> None:
    """409 when the live subscription uses it; disable at the provider; newest remaining → default."""
    await _lock_store(session, store_id)
    row = await _store_card(session, store_id, method_id)
    live = await _live(session, store_id)
    if live is not None and live.provider_card_id == row.provider_card_id:
        raise Conflict("card in use by subscription")
    await provider.disable_card(row.provider_card_id)
    payload = _method_payload(row)
    await session.delete(row)
    await session.flush()
    if payload["is_default"]:
        newest = (
            await session.execute(
                select(PaymentMethod)
                .where(PaymentMethod.store_id == store_id)
                .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if newest is not None:
            newest.is_default = True
            await session.flush()
    await audit.record(
        session,
        action="billing.payment_method_removed",
        target_type="payment_method",
        target_id=method_id,
        actor=actor,
        payload=payload,
    )


# --- subscriptions (§1.4) ----------------------------------------------------------------------------


async def _live(session: AsyncSession, store_id: uuid.UUID, *, lock: bool = False) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.store_id == store_id, Subscription.status.in_(LIVE_STATUSES)
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def _audit_payload(row: Subscription) -> dict[str, Any]:
    return {
        "provider_subscription_id": row.provider_subscription_id,
        "status": row.status,
        "billing_plan_id": row.billing_plan_id,
    }


async def current_subscription(
    session: AsyncSession, provider: BillingProvider, settings: Settings, store_id: uuid.UUID
) -> SubscriptionDTO | None:
    """The live row after a provider sync (a sync failure answers the stored row and warns)."""
    row = await _live(session, store_id)
    if row is None:
        return None
    try:
        data = await provider.get_subscription(row.provider_subscription_id)
    except AppError as exc:
        log.warning("billing.sync_failed", provider_object_id=row.provider_subscription_id, code=exc.code)
        return subscription_dto(row)
    result = await sync.upsert_subscription(session, data, settings.billing_past_due_grace_days)
    assert result.subscription is not None
    if result.subscription.status not in LIVE_STATUSES:  # the sync ended it: no live subscription
        return None
    return subscription_dto(result.subscription)


@dataclass
class Created:
    subscription: SubscriptionDTO
    created: bool


async def _resolve_card(
    session: AsyncSession, store_id: uuid.UUID, method_id: uuid.UUID | None
) -> PaymentMethod:
    if method_id is not None:
        row = (
            await session.execute(
                select(PaymentMethod).where(PaymentMethod.id == method_id, PaymentMethod.store_id == store_id)
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("payment method not found")
        return row
    default = (
        await session.execute(
            select(PaymentMethod).where(PaymentMethod.store_id == store_id, PaymentMethod.is_default)
        )
    ).scalar_one_or_none()
    if default is None:
        raise ValidationFailed(details={"payment_method_id": "no payment method: add a card first"})
    return default


async def _resolve_plan(
    session: AsyncSession, settings: Settings, plan_id: str | None
) -> tuple[str | None, str]:
    """(billing plan id, provider plan variation id)."""
    if plan_id is not None:
        plan = await session.get(BillingPlan, plan_id)
        if plan is None or plan.status != "active":
            raise ValidationFailed(details={"plan_id": "must be an active plan"})
        return plan.id, plan.provider_plan_id
    default = (
        await session.execute(
            select(BillingPlan).where(BillingPlan.is_default, BillingPlan.status == "active")
        )
    ).scalar_one_or_none()
    if default is not None:
        return default.id, default.provider_plan_id
    if settings.square_subscription_plan_id:
        return None, settings.square_subscription_plan_id
    raise ValidationFailed(details={"plan_id": "no plan: none given and no default plan"})


async def create_subscription(
    session: AsyncSession,
    provider: BillingProvider,
    *,
    settings: Settings,
    store: Store,
    actor: Actor,
    body: SubscribeIn,
    http_key: str,
) -> Created:
    """§1.4 create steps: resolve, live-row checks, provider create + get, one locked transaction."""
    grace = settings.billing_past_due_grace_days
    customer_id = store.billing_customer_id
    if not customer_id:
        raise StateConflict(NOT_LINKED)
    card = await _resolve_card(session, store.id, body.payment_method_id)
    plan_id, variation = await _resolve_plan(session, settings, body.plan_id)
    live = await _live(session, store.id)
    ended: Subscription | None = None
    if live is not None:
        if live.status in ENTITLED_STATUSES:
            return Created(subscription_dto(live), created=False)
        if live.status == "paused":
            raise Conflict("subscription is paused; resume it")
        # incomplete / unpaid: cancel it at the provider; marked canceled with the new row.
        await _cancel_at_provider(provider, live.provider_subscription_id)
        ended = live
    scope = f"{store.id}:{http_key}"
    data = await provider.create_subscription(
        customer_id, card.provider_card_id, variation, provider_key("sub", scope)
    )
    provider_id = str(data["id"])
    try:
        data = await provider.get_subscription(provider_id)
    except AppError as exc:
        await _compensate(_cancel_at_provider(provider, provider_id))
        raise DependencyError("billing", {"reason": "get_failed"}) from exc
    try:
        await _lock_store(session, store.id)
        if ended is not None:
            ended.status = "canceled"
            ended.canceled_at = ended.canceled_at or datetime.now(UTC)
            ended.updated_at = datetime.now(UTC)
            await session.flush()
        existing = (
            await session.execute(
                select(Subscription).where(Subscription.provider_subscription_id == provider_id)
            )
        ).scalar_one_or_none()
        if existing is not None:  # a retry of the same key: the provider returned the same subscription
            return Created(subscription_dto(existing), created=False)
        other = await _live(session, store.id)
        if other is not None and other.status in ENTITLED_STATUSES:
            await _compensate(_cancel_at_provider(provider, provider_id))
            return Created(subscription_dto(other), created=False)
        result = await sync.upsert_subscription(session, data, grace, store_id=store.id)
        row = result.subscription
        assert row is not None
        if plan_id is not None and row.billing_plan_id is None:
            row.billing_plan_id = plan_id
        row.provider_customer_id = customer_id
        row.provider_card_id = card.provider_card_id
        await session.flush()
        await apply_flag_rule(session, store.id)
        await audit.record(
            session,
            action="billing.subscription_created",
            target_type="subscription",
            target_id=row.id,
            actor=actor,
            payload=_audit_payload(row),
        )
    except DBAPIError as exc:
        log.error("billing.compensation", operation="cancel", provider_object_id=provider_id,
                  error=type(exc).__name__)  # fmt: skip
        await _compensate(_cancel_at_provider(provider, provider_id))
        raise DependencyError("database") from exc
    return Created(subscription_dto(row), created=True)


async def _cancel_at_provider(provider: BillingProvider, provider_id: str) -> None:
    """Cancel; a CANCEL already pending (or an already canceled subscription) counts as done."""
    try:
        await provider.cancel(provider_id)
    except StateConflict:
        data = await provider.get_subscription(provider_id)
        pending = any(str(a.get("type")).upper() == "CANCEL" for a in data.get("actions") or [])
        if not pending and str(data.get("status", "")).upper() not in ("CANCELED", "DEACTIVATED"):
            raise


def _pending(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((a for a in data.get("actions") or [] if str(a.get("type")).upper() == kind), None)


async def _synced(
    session: AsyncSession, settings: Settings, data: dict[str, Any], action: str | None, actor: Actor
) -> SubscriptionDTO:
    """Store the provider's view of the subscription, audit `action` (when one happened), answer the DTO."""
    result = await sync.upsert_subscription(session, data, settings.billing_past_due_grace_days)
    row = result.subscription
    assert row is not None
    if action is not None:
        await audit.record(
            session,
            action=action,
            target_type="subscription",
            target_id=row.id,
            actor=actor,
            payload=_audit_payload(row),
        )
    return subscription_dto(row)


async def cancel_subscription(
    session: AsyncSession, provider: BillingProvider, settings: Settings, store_id: uuid.UUID, actor: Actor
) -> SubscriptionDTO | None:
    """Cancel at period end; access continues until the provider reports CANCELED."""
    row = await _live(session, store_id)
    if row is None:
        return None
    data = await provider.get_subscription(row.provider_subscription_id)
    if _pending(data, "CANCEL") is None:
        data = await provider.cancel(row.provider_subscription_id)
        if _pending(data, "CANCEL") is None and str(data.get("status")).upper() != "CANCELED":
            data = await provider.get_subscription(row.provider_subscription_id)
    return await _synced(session, settings, data, "billing.subscription_canceled", actor)


async def pause_subscription(
    session: AsyncSession, provider: BillingProvider, settings: Settings, store_id: uuid.UUID, actor: Actor
) -> SubscriptionDTO:
    row = await _live(session, store_id)
    if row is None:
        raise NotFound("no live subscription")
    if row.status not in ("active", "trialing"):
        raise StateConflict("only an active or trialing subscription can be paused", {"status": row.status})
    data = await provider.get_subscription(row.provider_subscription_id)
    if _pending(data, "PAUSE") is None:
        effective = sync.parse_moment(data.get("charged_through_date")) or row.current_period_end
        when: date = effective.date() if effective else datetime.now(UTC).date()
        data = await provider.pause(row.provider_subscription_id, when)
        if _pending(data, "PAUSE") is None:
            data = await provider.get_subscription(row.provider_subscription_id)
    return await _synced(session, settings, data, "billing.subscription_paused", actor)


async def resume_subscription(
    session: AsyncSession, provider: BillingProvider, settings: Settings, store_id: uuid.UUID, actor: Actor
) -> SubscriptionDTO:
    """Un-cancel / un-pause (delete the pending action); resume a paused one; then sync."""
    row = await _live(session, store_id)
    if row is None:
        raise NotFound("no live subscription")
    data = await provider.get_subscription(row.provider_subscription_id)
    changed = False
    for kind in ("CANCEL", "PAUSE"):
        action = _pending(data, kind)
        if action is not None:
            await provider.delete_action(row.provider_subscription_id, str(action["id"]))
            changed = True
    if str(data.get("status", "")).upper() in ("PAUSED", "SUSPENDED"):
        await provider.resume(row.provider_subscription_id)
        changed = True
    if changed:
        data = await provider.get_subscription(row.provider_subscription_id)
    return await _synced(session, settings, data, "billing.subscription_resumed" if changed else None, actor)


# --- charges (§1.6) --------------------------------------------------------------------------------


async def list_charges(
    session: AsyncSession, store_id: uuid.UUID, type_: str | None, status: str | None, page: PageParams
) -> tuple[list[ChargeDTO], str | None]:
    query = select(Charge).where(Charge.store_id == store_id)
    if type_ is not None:
        query = query.where(Charge.type == type_)
    if status is not None:
        query = query.where(Charge.status == status)
    after = after_cursor_desc(Charge.created_at, Charge.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = list(
        (
            await session.execute(
                query.order_by(Charge.created_at.desc(), Charge.id.desc()).limit(page.limit + 1)
            )
        ).scalars()
    )
    items, cursor = build_page(rows, page.limit)
    return [charge_dto(r) for r in items], cursor
