"""The Square billing provider on Square's official SDK (`squareup`, module `square`).

Base URL from SQUARE_ENV, overridable by SQUARE_BASE_URL (staging, tests' fake server); pinned
Square-Version; 10 s timeout; the SDK's own retries are off and a network error or timeout is retried
once with the same idempotency key; errors map to ours as money-ads-analytics.md §1.1 says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import httpx
import structlog
from square import AsyncSquare
from square.core.api_error import ApiError
from square.core.request_options import RequestOptions
from square.environment import SquareEnvironment

from packfinderz.billing.provider import (
    PROVIDER_CALLS,
    CustomerDetails,
    ProviderCard,
    ProviderConflict,
    ProviderCustomer,
    ProviderDeclined,
    ProviderNotFound,
    ProviderPayment,
    provider_unavailable,
)
from packfinderz.config import Settings
from packfinderz.kit.errors import AppError, IdempotencyKeyReused

log = structlog.get_logger("billing.square")

SQUARE_VERSION = "2025-10-16"
TIMEOUT_SECONDS = 10.0
REDACTED_MARKERS = (
    "card",
    "nonce",
    "token",
    "cvv",
    "cvc",
    "secret",
    "email",
    "phone",
    "source_id",
    "address",
)
NO_SDK_RETRIES: RequestOptions = {"max_retries": 0}
T = TypeVar("T")


def redact(value: Any) -> Any:
    """A copy of a JSON value with every sensitive key's value replaced (for debug logs only)."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(m in str(k).lower() for m in REDACTED_MARKERS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _plain(model: Any) -> dict[str, Any]:
    """An SDK response model as plain JSON (aliases, no unset fields)."""
    if model is None:
        return {}
    result: dict[str, Any] = json.loads(model.json())
    return result


def _present(**values: Any) -> dict[str, Any]:
    """The keyword arguments that have a value."""
    return {k: v for k, v in values.items() if v not in (None, "")}


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """Our address JSON as Square's Address."""
    if not address:
        return None
    return _present(
        address_line_1=address.get("line1"),
        address_line_2=address.get("line2"),
        locality=address.get("city"),
        administrative_district_level_1=address.get("state"),
        postal_code=address.get("postal_code"),
        country=address.get("country") or "US",
    )


class SquareProvider:
    """Billing provider talking to Square (or a Square-compatible fake) through the official SDK."""

    name = "square"

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        token = settings.square_access_token.get_secret_value() if settings.square_access_token else ""
        environment = (
            SquareEnvironment.PRODUCTION if settings.square_env == "production" else SquareEnvironment.SANDBOX
        )
        self._location_id = settings.square_location_id or ""
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._client = AsyncSquare(
            base_url=settings.square_base_url or None,
            environment=environment,
            token=token,
            timeout=timeout,
            httpx_client=self._http,
            version=SQUARE_VERSION,
        )

    async def probe(self) -> None:
        return None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one SDK call: one same-key retry on network errors, errors mapped, metric and log."""
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                result = await call()
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt == 1:
                    log.warning("billing.provider_retry", provider=self.name, operation=operation,
                                error=type(exc).__name__)  # fmt: skip
                    continue
                self._finish(operation, "unavailable", started)
                raise provider_unavailable("network") from exc
            except ApiError as exc:
                error = self._map(exc)
                self._finish(operation, error.code.lower(), started)
                raise error from exc
            self._finish(operation, "ok", started)
            return result
        raise AssertionError("unreachable")

    def _finish(self, operation: str, result: str, started: float) -> None:
        PROVIDER_CALLS.labels(operation=operation, result=result).inc()
        log.info("billing.provider_call", provider=self.name, operation=operation, status=result,
                 duration_ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip

    def _map(self, exc: ApiError) -> AppError:
        status = exc.status_code or 0
        codes = [str(e.code) for e in exc.errors if getattr(e, "code", None)]
        code = codes[0] if codes else "UNKNOWN"
        log.debug("billing.provider_error", provider=self.name, status=status, body=redact(exc.body))
        if "IDEMPOTENCY_KEY_REUSED" in codes:
            return IdempotencyKeyReused(details={"provider_code": "IDEMPOTENCY_KEY_REUSED"})
        if status in (401, 403) or "AUTHENTICATION_ERROR" in codes or "UNAUTHORIZED" in codes:
            return provider_unavailable("credentials")
        if status == 429 or status >= 500:
            return provider_unavailable(f"http_{status}")
        if status == 404:
            return ProviderNotFound("billing object not found", {"provider_code": code})
        if status == 409:
            return ProviderConflict("billing provider conflict", {"provider_code": code})
        if status in (400, 402, 422):
            message = (
                "card declined"
                if "DECLINE" in code or code.startswith("CARD_")
                else "billing request refused"
            )
            return ProviderDeclined(message, code)
        return provider_unavailable(f"http_{status}")

    # --- customers and cards ----------------------------------------------------------------------

    async def ensure_customer(self, details: CustomerDetails, idempotency_key: str) -> ProviderCustomer:
        found = await self._call(
            "search_customers",
            lambda: self._client.customers.search(
                limit=1,
                query={"filter": {"reference_id": {"exact": details.reference_id}}},
                request_options=NO_SDK_RETRIES,
            ),
        )
        if found.customers:
            return ProviderCustomer(str(found.customers[0].id), created=False)
        if details.email:
            email = details.email
            found = await self._call(
                "search_customers",
                lambda: self._client.customers.search(
                    limit=1,
                    query={"filter": {"email_address": {"exact": email}}},
                    request_options=NO_SDK_RETRIES,
                ),
            )
            if found.customers:
                return ProviderCustomer(str(found.customers[0].id), created=False)
        # Unset fields are omitted (the SDK would send None as JSON null).
        fields = _present(
            reference_id=details.reference_id,
            email_address=details.email,
            company_name=details.company,
            given_name=details.given_name,
            family_name=details.family_name,
            phone_number=details.phone,
            address=_address(details.address),
        )
        created = await self._call(
            "create_customer",
            lambda: self._client.customers.create(
                idempotency_key=idempotency_key, request_options=NO_SDK_RETRIES, **fields
            ),
        )
        if created.customer is None or not created.customer.id:
            raise provider_unavailable("malformed_response")
        return ProviderCustomer(str(created.customer.id), created=True)

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
        card: dict[str, Any] = {"customer_id": customer_id}
        if cardholder_name:
            card["cardholder_name"] = cardholder_name
        address = _address(billing_address)
        if address:
            card["billing_address"] = address
        extra = {"verification_token": verification_token} if verification_token else {}
        response = await self._call(
            "create_card",
            lambda: self._client.cards.create(
                idempotency_key=idempotency_key,
                source_id=source_id,
                card=card,
                request_options=NO_SDK_RETRIES,
                **extra,
            ),
        )
        data = _plain(response.card)
        if not data.get("id"):
            raise provider_unavailable("malformed_response")
        return ProviderCard(
            id=str(data["id"]),
            card_brand=data.get("card_brand"),
            card_last4=data.get("last_4"),
            card_exp_month=data.get("exp_month"),
            card_exp_year=data.get("exp_year"),
            fingerprint=data.get("fingerprint"),
            cardholder_name=data.get("cardholder_name"),
            billing_address=data.get("billing_address"),
        )

    async def disable_card(self, card_id: str) -> None:
        try:
            await self._call(
                "disable_card",
                lambda: self._client.cards.disable(card_id=card_id, request_options=NO_SDK_RETRIES),
            )
        except ProviderNotFound:
            return

    # --- subscriptions ----------------------------------------------------------------------------

    async def create_subscription(
        self, customer_id: str, card_id: str, plan_variation_id: str, idempotency_key: str
    ) -> dict[str, Any]:
        response = await self._call(
            "create_subscription",
            lambda: self._client.subscriptions.create(
                idempotency_key=idempotency_key,
                location_id=self._location_id,
                customer_id=customer_id,
                card_id=card_id,
                plan_variation_id=plan_variation_id,
                request_options=NO_SDK_RETRIES,
            ),
        )
        return self._subscription(response.subscription, None)

    def _subscription(self, subscription: Any, actions: Any) -> dict[str, Any]:
        data = _plain(subscription)
        if not data.get("id"):
            raise provider_unavailable("malformed_response")
        if actions is not None:
            data["actions"] = [_plain(a) for a in actions]
        data.setdefault("actions", [])
        return data

    async def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        response = await self._call(
            "get_subscription",
            lambda: self._client.subscriptions.get(
                subscription_id=subscription_id, include="actions", request_options=NO_SDK_RETRIES
            ),
        )
        return self._subscription(response.subscription, None)

    async def cancel(self, subscription_id: str) -> dict[str, Any]:
        response = await self._call(
            "cancel",
            lambda: self._client.subscriptions.cancel(
                subscription_id=subscription_id, request_options=NO_SDK_RETRIES
            ),
        )
        return self._subscription(response.subscription, response.actions)

    async def pause(self, subscription_id: str, effective_date: date) -> dict[str, Any]:
        response = await self._call(
            "pause",
            lambda: self._client.subscriptions.pause(
                subscription_id=subscription_id,
                pause_effective_date=effective_date.isoformat(),
                request_options=NO_SDK_RETRIES,
            ),
        )
        return self._subscription(response.subscription, response.actions)

    async def resume(self, subscription_id: str) -> dict[str, Any]:
        response = await self._call(
            "resume",
            lambda: self._client.subscriptions.resume(
                subscription_id=subscription_id, request_options=NO_SDK_RETRIES
            ),
        )
        return self._subscription(response.subscription, response.actions)

    async def delete_action(self, subscription_id: str, action_id: str) -> dict[str, Any]:
        response = await self._call(
            "delete_action",
            lambda: self._client.subscriptions.delete_action(
                subscription_id=subscription_id, action_id=action_id, request_options=NO_SDK_RETRIES
            ),
        )
        return self._subscription(response.subscription, None)

    # --- payments ---------------------------------------------------------------------------------

    async def create_payment(
        self, amount_cents: int, customer_id: str, card_id: str, reference_id: str, idempotency_key: str
    ) -> ProviderPayment:
        response = await self._call(
            "create_payment",
            lambda: self._client.payments.create(
                source_id=card_id,
                idempotency_key=idempotency_key,
                amount_money={"amount": amount_cents, "currency": "USD"},
                autocomplete=True,
                customer_id=customer_id,
                reference_id=reference_id[:40],
                request_options=NO_SDK_RETRIES,
                **_present(location_id=self._location_id),
            ),
        )
        data = _plain(response.payment)
        if not data.get("id"):
            raise provider_unavailable("malformed_response")
        status = str(data.get("status", ""))
        if status == "FAILED":
            raise ProviderDeclined("card declined", "PAYMENT_FAILED")
        amount = int((data.get("amount_money") or {}).get("amount", amount_cents))
        return ProviderPayment(str(data["id"]), status, amount, data)
