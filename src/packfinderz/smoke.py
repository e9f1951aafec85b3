"""`packfinderz smoke --base-url URL`: walk the critical routes of a running deployment.

It signs in as a synthetic test buyer and test vendor (credentials from the environment), makes sure the
vendor lists the flagged smoke product, then searches, quotes, checks out and cancels that order at once
so no stock stays reserved. Each step prints its HTTP status and latency; any failure exits 1.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import typer

ENV_BUYER_EMAIL = "SMOKE_BUYER_EMAIL"
ENV_BUYER_PASSWORD = "SMOKE_BUYER_PASSWORD"  # noqa: S105 - a variable name, not a secret
ENV_VENDOR_EMAIL = "SMOKE_VENDOR_EMAIL"
ENV_VENDOR_PASSWORD = "SMOKE_VENDOR_PASSWORD"  # noqa: S105 - a variable name, not a secret
# The product the smoke test buys; its SKU and title say what it is to anyone who meets it.
SMOKE_SKU = "PF-SMOKE-TEST"
SMOKE_TITLE = "[SMOKE TEST] PackFinderz smoke-test item - not for sale"
SMOKE_STOCK = 1000
# Test stores must say so in their company name, so the smoke test never orders from a real vendor.
FLAG = "smoke"


@dataclass
class Credentials:
    email: str
    password: str


@dataclass
class StepResult:
    """One line of the report."""

    name: str
    ok: bool = False
    status: int | None = None
    latency_ms: float = 0.0
    detail: str = ""


class StepFailed(Exception):
    """A step got an answer it should not have."""


@dataclass
class Session:
    """Tokens and ids gathered along the way."""

    buyer_token: str = ""
    vendor_token: str = ""
    vendor_store_id: str = ""
    product_id: str = ""
    cart_id: str = ""
    order_id: str = ""
    shipping_address: dict[str, Any] = field(default_factory=dict)


class Smoke:
    """The walk over one deployment."""

    def __init__(
        self, client: httpx.AsyncClient, buyer: Credentials, vendor: Credentials, *, allow_unflagged: bool
    ) -> None:
        self.client = client
        self.buyer = buyer
        self.vendor = vendor
        self.allow_unflagged = allow_unflagged
        self.state = Session()
        self.current: StepResult | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        keyed: bool = False,
        expect: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> Any:
        """One request of the current step: timed, checked, its `data` returned."""
        assert self.current is not None
        headers = {"X-Request-Id": f"smoke-{uuid.uuid4().hex[:16]}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if keyed:
            headers["Idempotency-Key"] = f"smoke-{uuid.uuid4()}"
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        finally:
            self.current.latency_ms += (time.perf_counter() - started) * 1000
        self.current.status = response.status_code
        if response.status_code not in expect:
            raise StepFailed(_error(response))
        return response.json().get("data") if response.content else None

    async def _login(self, who: Credentials, store_type: str) -> tuple[str, str]:
        data = await self.call(
            "POST", "/api/v1/auth/login", json={"email": who.email, "password": who.password}
        )
        active = data.get("active_store_id")
        store = next((s for s in data.get("stores", []) if s.get("id") == active), None)
        if store is None or store.get("type") != store_type:
            raise StepFailed(f"{who.email} has no active {store_type} store")
        if FLAG not in str(store.get("name", "")).lower() and not self.allow_unflagged:
            raise StepFailed(f"store {store.get('name')!r} is not flagged as a smoke-test store")
        return str(data["access_token"]), str(active)

    async def health(self) -> str:
        data = await self.call("GET", "/health/ready")
        return str(data.get("status"))

    async def login_buyer(self) -> str:
        self.state.buyer_token, _ = await self._login(self.buyer, "buyer")
        return self.buyer.email

    async def login_vendor(self) -> str:
        self.state.vendor_token, self.state.vendor_store_id = await self._login(self.vendor, "vendor")
        return self.vendor.email

    async def product(self) -> str:
        """The flagged product exists, is active and has stock (created or restocked if needed)."""
        token = self.state.vendor_token
        page = await self.call(
            "GET", "/api/v1/vendor/products", token=token, params={"q": SMOKE_SKU, "limit": 100}
        )
        found = next((p for p in page["items"] if p["sku"] == SMOKE_SKU), None)
        if found is None:
            created = await self.call(
                "POST",
                "/api/v1/vendor/products",
                token=token,
                keyed=True,
                expect=(201,),
                json=_product_body(),
            )
            self.state.product_id = str(created["id"])
            return f"created {SMOKE_SKU}"
        self.state.product_id = str(found["id"])
        available = (found.get("inventory") or {}).get("available_qty", 0)
        if not found["is_active"] or available < found["moq"]:
            body = {"is_active": True, "inventory": {"available_qty": SMOKE_STOCK, "low_stock_threshold": 0}}
            await self.call("PATCH", f"/api/v1/vendor/products/{found['id']}", token=token, json=body)
            return f"restocked {SMOKE_SKU}"
        return f"{SMOKE_SKU} in stock"

    async def search(self) -> str:
        page = await self.call(
            "GET", "/api/v1/products", token=self.state.buyer_token, params={"q": SMOKE_SKU}
        )
        if self.state.product_id not in {p["id"] for p in page["items"]}:
            raise StepFailed("the smoke product is not visible to the buyer")
        return f"{len(page['items'])} result(s)"

    async def quote(self) -> str:
        item = {
            "product_id": self.state.product_id,
            "vendor_store_id": self.state.vendor_store_id,
            "quantity": 1,
        }
        cart = await self.call(
            "POST", "/api/v1/cart", token=self.state.buyer_token, keyed=True, json={"items": [item]}
        )
        statuses = [i["status"] for i in cart["items"]]
        if statuses != ["ok"]:
            raise StepFailed(f"quote item status {statuses}")
        self.state.cart_id = str(cart["id"])
        return f"total {cart['total_cents']} cents"

    async def checkout(self) -> str:
        store = await self.call("GET", "/api/v1/stores/me", token=self.state.buyer_token)
        body = {"cart_id": self.state.cart_id, "shipping_address": store["address"], "payment_method": "cash"}
        result = await self.call(
            "POST", "/api/v1/checkout", token=self.state.buyer_token, keyed=True, expect=(201,), json=body
        )
        orders = [o for o in result["vendor_orders"] if o["status"] == "created_pending"]
        if not orders:
            raise StepFailed("checkout reserved nothing")
        self.state.order_id = str(orders[0]["order_id"])
        return f"order {orders[0]['order_number']}"

    async def cancel(self) -> str:
        path = f"/api/v1/orders/{self.state.order_id}/cancel"
        result = await self.call(
            "POST", path, token=self.state.buyer_token, keyed=True, json={"reason": "smoke test"}
        )
        if result["status"] != "canceled":
            raise StepFailed(f"order is {result['status']}")
        return "order canceled, stock released"

    async def run(self) -> list[StepResult]:
        """Every step in order; after a failure the rest is skipped, but a placed order is still canceled."""
        steps = (
            ("health", self.health),
            ("login buyer", self.login_buyer),
            ("login vendor", self.login_vendor),
            ("vendor product", self.product),
            ("search", self.search),
            ("quote", self.quote),
            ("checkout", self.checkout),
            ("cancel", self.cancel),
        )
        results: list[StepResult] = []
        failed = False
        for name, step in steps:
            if failed and not (name == "cancel" and self.state.order_id):
                results.append(StepResult(name, detail="skipped"))
                continue
            self.current = StepResult(name)
            try:
                self.current.detail = await step()
                self.current.ok = True
            except (StepFailed, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                self.current.detail = str(exc) or type(exc).__name__
                failed = True
            results.append(self.current)
        return results


def _error(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _product_body() -> dict[str, Any]:
    return {
        "sku": SMOKE_SKU,
        "title": SMOKE_TITLE,
        "subtitle": "Synthetic item used by the post-deploy smoke test; orders are canceled at once.",
        "category": "accessory",
        "unit": "unit",
        "feelings": ["calm"],
        "flavors": ["herbal"],
        "usage": ["stress_relief"],
        "moq": 1,
        "price_cents": 100,
        "inventory": {"available_qty": SMOKE_STOCK, "low_stock_threshold": 0},
    }


def report(results: list[StepResult]) -> str:
    """The table printed at the end: step, result, HTTP status, latency, detail."""
    lines = [f"{'step':<16}{'result':<8}{'http':<6}{'latency_ms':>11}  detail"]
    for r in results:
        outcome = "ok" if r.ok else ("skip" if r.detail == "skipped" and r.status is None else "FAIL")
        status = str(r.status) if r.status is not None else "-"
        lines.append(f"{r.name:<16}{outcome:<8}{status:<6}{r.latency_ms:>11.1f}  {r.detail}")
    return "\n".join(lines)


async def run_smoke(
    base_url: str, buyer: Credentials, vendor: Credentials, *, request_timeout: float, allow_unflagged: bool
) -> list[StepResult]:
    """Run every step against `base_url` (each request bounded by `request_timeout` seconds)."""
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=request_timeout) as client:
        return await Smoke(client, buyer, vendor, allow_unflagged=allow_unflagged).run()


def _credential(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        typer.echo(f"smoke: {name} is not set", err=True)
        raise typer.Exit(2)
    return value


def smoke(
    base_url: Annotated[
        str, typer.Option("--base-url", help="The deployment, e.g. https://api.example.com.")
    ],
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    allow_unflagged: Annotated[
        bool,
        typer.Option(
            help="Accept stores whose company name does not contain 'smoke' (e.g. dev demo accounts)."
        ),
    ] = False,
) -> None:
    """Walk health, login, search, quote, checkout and cancel with the synthetic smoke-test stores.

    Credentials: SMOKE_BUYER_EMAIL, SMOKE_BUYER_PASSWORD, SMOKE_VENDOR_EMAIL, SMOKE_VENDOR_PASSWORD.
    Exit 0 when every step passed, 1 when one failed, 2 when a credential is missing.
    """
    buyer = Credentials(_credential(ENV_BUYER_EMAIL), _credential(ENV_BUYER_PASSWORD))
    vendor = Credentials(_credential(ENV_VENDOR_EMAIL), _credential(ENV_VENDOR_PASSWORD))
    results = asyncio.run(
        run_smoke(base_url, buyer, vendor, request_timeout=timeout, allow_unflagged=allow_unflagged)
    )
    typer.echo(report(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)
