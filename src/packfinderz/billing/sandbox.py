"""The sandbox billing provider (money-ads-analytics.md §1.1): every flow offline, Square-shaped JSON.

State lives in `billing_sandbox_objects`, written in transactions of its own (like a remote provider:
our rollback never undoes a provider object, which is what the compensation paths are for). Ids are
`sbx_<kind>_<20 hex of sha256(idempotency key or reference id)>`, so the same key gives the same object.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.billing.provider import (
    PROVIDER_CALLS,
    CustomerDetails,
    ProviderCard,
    ProviderCustomer,
    ProviderDeclined,
    ProviderNotFound,
    ProviderPayment,
)
from packfinderz.kit.db import Database
from packfinderz.models.billing import BillingPlan, BillingSandboxObject

log = structlog.get_logger("billing.sandbox")

DECLINE_PREFIX = "sbx-decline"
FAIL_PAYMENTS_MARK = "fail-payments"
LOCATION_ID = "sbx_location"


def sandbox_id(kind: str, source: str) -> str:
    """`sbx_<kind>_<20 hex>` of the idempotency key or reference id."""
    return f"sbx_{kind}_{hashlib.sha256(source.encode()).hexdigest()[:20]}"


def today() -> date:
    return datetime.now(UTC).date()


def add_period(start: date, interval: str) -> date:
    """One billing period after start: 30 days, or one year for ANNUAL (29 Feb → 28 Feb)."""
    if interval == "ANNUAL":
        try:
            return start.replace(year=start.year + 1)
        except ValueError:
            return start.replace(year=start.year + 1, day=28)
    return start + timedelta(days=30)


class SandboxProvider:
    """Billing provider on the `billing_sandbox_objects` table; refused in prod by the factory."""

    name = "sandbox"

    def __init__(self, database: Database) -> None:
        self._database = database

    async def probe(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    # --- storage ----------------------------------------------------------------------------------

    async def _create(
        self, session: AsyncSession, kind: str, object_id: str, key: str | None, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Insert unless the id exists (same key → same object); returns the stored data."""
        await session.execute(
            insert(BillingSandboxObject)
            .values(id=object_id, kind=kind, idempotency_key=key, data=data)
            .on_conflict_do_nothing()
        )
        row = await session.get(BillingSandboxObject, object_id, populate_existing=True)
        assert row is not None
        return dict(row.data)

    async def _load(self, session: AsyncSession, kind: str, object_id: str) -> BillingSandboxObject:
        row = await session.get(BillingSandboxObject, object_id, with_for_update=True)
        if row is None or row.kind != kind:
            raise ProviderNotFound(f"{kind} not found")
        return row

    @staticmethod
    def _save(row: BillingSandboxObject, data: dict[str, Any]) -> None:
        data["updated_at"] = datetime.now(UTC).isoformat()
        data["version"] = int(data.get("version", 0)) + 1
        row.data = data

    def _count(self, operation: str, result: str) -> None:
        PROVIDER_CALLS.labels(operation=operation, result=result).inc()

    # --- customers and cards ----------------------------------------------------------------------

    async def ensure_customer(self, details: CustomerDetails, idempotency_key: str) -> ProviderCustomer:
        async with self._database.transaction() as session:
            # A lock per reference id keeps two concurrent registrations from creating twice.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:ref))"), {"ref": details.reference_id}
            )
            customer_id = sandbox_id("customer", details.reference_id)
            existing = await session.get(BillingSandboxObject, customer_id)
            if existing is None and details.email:
                found = await session.execute(
                    select(BillingSandboxObject.id)
                    .where(
                        BillingSandboxObject.kind == "customer",
                        BillingSandboxObject.data["email_address"].astext == details.email,
                    )
                    .order_by(BillingSandboxObject.created_at)
                    .limit(1)
                )
                other = found.scalar_one_or_none()
                if other is not None:
                    self._count("ensure_customer", "found")
                    return ProviderCustomer(other, created=False)
            if existing is not None:
                self._count("ensure_customer", "found")
                return ProviderCustomer(customer_id, created=False)
            now = datetime.now(UTC).isoformat()
            await self._create(
                session,
                "customer",
                customer_id,
                None,
                {
                    "id": customer_id,
                    "reference_id": details.reference_id,
                    "email_address": details.email,
                    "company_name": details.company,
                    "given_name": details.given_name,
                    "family_name": details.family_name,
                    "address": details.address,
                    "created_at": now,
                },
            )
        self._count("ensure_customer", "created")
        log.info("billing.provider_call", provider=self.name, operation="ensure_customer",
                 provider_object_id=customer_id, status="created")  # fmt: skip
        return ProviderCustomer(customer_id, created=True)

    async def create_card(
        self,
        customer_id: str,
        source_id: str,
        idempotency_key: str,
        *,
        cardholder_name: str | None = None,
        verification_token: str | None = None,
        billing_address: dict[str, Any] | None = None,
    ) -> ProviderCard:
        if source_id.startswith(DECLINE_PREFIX):
            self._count("create_card", "declined")
            raise ProviderDeclined("card declined", "CARD_DECLINED")
        async with self._database.transaction() as session:
            customer = await session.get(BillingSandboxObject, customer_id)
            if customer is None or customer.kind != "customer":
                self._count("create_card", "not_found")
                raise ProviderNotFound("customer not found")
            card_id = sandbox_id("card", idempotency_key)
            year = today().year + 3
            data = await self._create(
                session,
                "card",
                card_id,
                idempotency_key,
                {
                    "id": card_id,
                    "customer_id": customer_id,
                    "card_brand": "VISA",
                    "last_4": "1111",
                    "exp_month": 12,
                    "exp_year": year,
                    "fingerprint": "sbx-fp-" + hashlib.sha256(source_id.encode()).hexdigest()[:16],
                    "cardholder_name": cardholder_name,
                    "billing_address": billing_address,
                    "enabled": True,
                    "fail_payments": FAIL_PAYMENTS_MARK in source_id,
                    "created_at": datetime.now(UTC).isoformat(),
                },
            )
        self._count("create_card", "ok")
        return ProviderCard(
            id=card_id,
            card_brand=data["card_brand"],
            card_last4=data["last_4"],
            card_exp_month=data["exp_month"],
            card_exp_year=data["exp_year"],
            fingerprint=data["fingerprint"],
            cardholder_name=data.get("cardholder_name"),
            billing_address=data.get("billing_address"),
        )

    async def disable_card(self, card_id: str) -> None:
        async with self._database.transaction() as session:
            row = await session.get(BillingSandboxObject, card_id, with_for_update=True)
            if row is not None and row.kind == "card":
                self._save(row, {**row.data, "enabled": False})
        self._count("disable_card", "ok")

    # --- subscriptions ----------------------------------------------------------------------------

    async def _plan(self, session: AsyncSession, plan_variation_id: str) -> tuple[int, str]:
        plan = (
            await session.execute(
                select(BillingPlan).where(BillingPlan.provider_plan_id == plan_variation_id)
            )
        ).scalar_one_or_none()
        if plan is None:
            return 0, "EVERY_30_DAYS"
        return plan.trial_days, plan.interval

    async def create_subscription(
        self, customer_id: str, card_id: str, plan_variation_id: str, idempotency_key: str
    ) -> dict[str, Any]:
        async with self._database.transaction() as session:
            customer = await session.get(BillingSandboxObject, customer_id)
            card = await session.get(BillingSandboxObject, card_id)
            if customer is None or customer.kind != "customer":
                self._count("create_subscription", "not_found")
                raise ProviderNotFound("customer not found")
            if card is None or card.kind != "card" or not card.data.get("enabled", True):
                self._count("create_subscription", "declined")
                raise ProviderDeclined("card not usable", "INVALID_CARD")
            trial_days, interval = await self._plan(session, plan_variation_id)
            start = today() + timedelta(days=trial_days)
            subscription_id = sandbox_id("subscription", idempotency_key)
            data = await self._create(
                session,
                "subscription",
                subscription_id,
                idempotency_key,
                {
                    "id": subscription_id,
                    "location_id": LOCATION_ID,
                    "customer_id": customer_id,
                    "card_id": card_id,
                    "plan_variation_id": plan_variation_id,
                    "interval": interval,
                    "status": "PENDING" if trial_days > 0 else "ACTIVE",
                    "start_date": start.isoformat(),
                    "charged_through_date": add_period(start, interval).isoformat(),
                    "invoice_ids": [],
                    "actions": [],
                    "timezone": "UTC",
                    "version": 1,
                    "created_at": datetime.now(UTC).isoformat(),
                },
            )
        self._count("create_subscription", "ok")
        return data

    async def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        async with self._database.transaction() as session:
            row = await session.get(BillingSandboxObject, subscription_id)
            if row is None or row.kind != "subscription":
                self._count("get_subscription", "not_found")
                raise ProviderNotFound("subscription not found")
            self._count("get_subscription", "ok")
            return dict(row.data)

    async def _add_action(self, subscription_id: str, kind: str, effective: date | None) -> dict[str, Any]:
        operation = kind.lower()
        async with self._database.transaction() as session:
            row = await self._load(session, "subscription", subscription_id)
            data = dict(row.data)
            if data["status"] in ("CANCELED", "DEACTIVATED"):
                self._count(operation, "declined")
                raise ProviderDeclined("subscription is canceled", "INVALID_STATE")
            actions = list(data.get("actions") or [])
            if any(a["type"] == kind for a in actions):
                self._count(operation, "declined")
                raise ProviderDeclined(f"a {kind} action is already pending", "DUPLICATE_ACTION")
            when = effective or date.fromisoformat(data["charged_through_date"])
            actions.append(
                {
                    "id": f"sbx_action_{uuid.uuid4().hex[:20]}",
                    "type": kind,
                    "effective_date": when.isoformat(),
                }
            )
            data["actions"] = actions
            self._save(row, data)
        self._count(operation, "ok")
        return data

    async def cancel(self, subscription_id: str) -> dict[str, Any]:
        return await self._add_action(subscription_id, "CANCEL", None)

    async def pause(self, subscription_id: str, effective_date: date) -> dict[str, Any]:
        return await self._add_action(subscription_id, "PAUSE", effective_date)

    async def resume(self, subscription_id: str) -> dict[str, Any]:
        async with self._database.transaction() as session:
            row = await self._load(session, "subscription", subscription_id)
            data = dict(row.data)
            if data["status"] != "PAUSED":
                self._count("resume", "declined")
                raise ProviderDeclined("subscription is not paused", "INVALID_STATE")
            data["status"] = "ACTIVE"
            data.pop("paused_date", None)
            start = today()
            data["start_date"] = data.get("start_date") or start.isoformat()
            data["charged_through_date"] = add_period(
                start, data.get("interval", "EVERY_30_DAYS")
            ).isoformat()
            self._save(row, data)
        self._count("resume", "ok")
        return data

    async def delete_action(self, subscription_id: str, action_id: str) -> dict[str, Any]:
        async with self._database.transaction() as session:
            row = await self._load(session, "subscription", subscription_id)
            data = dict(row.data)
            actions = [a for a in data.get("actions") or [] if a["id"] != action_id]
            if len(actions) == len(data.get("actions") or []):
                self._count("delete_action", "not_found")
                raise ProviderNotFound("action not found")
            data["actions"] = actions
            self._save(row, data)
        self._count("delete_action", "ok")
        return data

    # --- payments ---------------------------------------------------------------------------------

    async def create_payment(
        self, amount_cents: int, customer_id: str, card_id: str, reference_id: str, idempotency_key: str
    ) -> ProviderPayment:
        async with self._database.transaction() as session:
            card = await session.get(BillingSandboxObject, card_id)
            if card is None or card.kind != "card":
                self._count("create_payment", "not_found")
                raise ProviderNotFound("card not found")
            payment_id = sandbox_id("payment", idempotency_key)
            failing = bool(card.data.get("fail_payments")) or not card.data.get("enabled", True)
            data = await self._create(
                session,
                "payment",
                payment_id,
                idempotency_key,
                {
                    "id": payment_id,
                    "status": "FAILED" if failing else "COMPLETED",
                    "amount_money": {"amount": amount_cents, "currency": "USD"},
                    "customer_id": customer_id,
                    "card_id": card_id,
                    "reference_id": reference_id,
                    "created_at": datetime.now(UTC).isoformat(),
                },
            )
        if data["status"] == "FAILED":
            self._count("create_payment", "declined")
            raise ProviderDeclined("card declined", "CARD_DECLINED")
        self._count("create_payment", "ok")
        return ProviderPayment(payment_id, "COMPLETED", int(data["amount_money"]["amount"]), data)

    # --- time simulation (admin endpoint, non-prod) -----------------------------------------------

    async def simulate(
        self, subscription_id: str, event: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Advance a sandbox subscription; returns it and the invoice the event produced (if any)."""
        async with self._database.transaction() as session:
            row = await self._load(session, "subscription", subscription_id)
            data = dict(row.data)
            interval = data.get("interval", "EVERY_30_DAYS")
            invoice: dict[str, Any] | None = None
            actions = list(data.get("actions") or [])
            if event in ("renew", "payment_failed"):
                if data["status"] in ("CANCELED", "DEACTIVATED"):
                    raise ProviderDeclined("subscription is canceled", "INVALID_STATE")
                amount = await self._plan_price(session, data["plan_variation_id"])
                number = len(data.get("invoice_ids") or []) + 1
                invoice_id = sandbox_id("invoice", f"{subscription_id}:{number}")
                paid = event == "renew"
                if paid:
                    base = max(date.fromisoformat(data["charged_through_date"]), today())
                    data["charged_through_date"] = add_period(base, interval).isoformat()
                    data["status"] = "ACTIVE"
                else:
                    data["charged_through_date"] = (today() - timedelta(days=1)).isoformat()
                invoice = {
                    "id": invoice_id,
                    "subscription_id": subscription_id,
                    "status": "PAID" if paid else "UNPAID",
                    "payment_requests": [{"computed_amount_money": {"amount": amount, "currency": "USD"}}],
                    "created_at": datetime.now(UTC).isoformat(),
                }
                data["invoice_ids"] = [*(data.get("invoice_ids") or []), invoice_id]
                await self._create(session, "invoice", invoice_id, None, invoice)
            else:
                wanted = {
                    "cancel_effective": "CANCEL",
                    "pause_effective": "PAUSE",
                    "resume_effective": "RESUME",
                }
                kind = wanted[event]
                action = next((a for a in actions if a["type"] == kind), None)
                if action is None and kind != "RESUME":
                    raise ProviderDeclined(f"no pending {kind} action", "INVALID_STATE")
                if action is not None:
                    actions.remove(action)
                data["actions"] = actions
                if kind == "CANCEL":
                    data["status"] = "CANCELED"
                    data["canceled_date"] = today().isoformat()
                elif kind == "PAUSE":
                    data["status"] = "PAUSED"
                    data["paused_date"] = today().isoformat()
                else:
                    if data["status"] != "PAUSED":
                        raise ProviderDeclined("subscription is not paused", "INVALID_STATE")
                    data["status"] = "ACTIVE"
                    data.pop("paused_date", None)
                    data["charged_through_date"] = add_period(today(), interval).isoformat()
            self._save(row, data)
        return data, invoice

    async def _plan_price(self, session: AsyncSession, plan_variation_id: str) -> int:
        plan = (
            await session.execute(
                select(BillingPlan).where(BillingPlan.provider_plan_id == plan_variation_id)
            )
        ).scalar_one_or_none()
        return plan.price_amount_cents if plan is not None else 0
