"""A client generated from /openapi.json works (issue #18 point 7).

openapi-python-client generates a typed client from the live api's document into tmp_path; the test
imports it and walks the buyer journey through it (login, search, quote, checkout, confirmation, order)
against the real api process: every call goes through the generated request builders and every answer
through the generated models, so a document that lies about a field, a status or a type fails here.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from packfinderz.catalog.seed import DEMO_DOMAIN, DEMO_PASSWORD
from tests.fixtures.live_api import LiveApi

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "pf_generated_client"
DENVER = {  # the demo buyer Denver Green Dispensary's shipping address (CO, like the vendor)
    "line1": "1600 Champa St",
    "city": "Denver",
    "state": "CO",
    "postal_code": "80202",
    "lat": 39.7508,
    "lng": -104.9966,
}


def generate(api: LiveApi, folder: Path) -> Any:
    """Generate the client package from the live document and import it."""
    document = httpx.get(f"{api.url}/openapi.json", timeout=30).json()
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document))
    result = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_buyer_journey_through_the_generated_client(api: LiveApi, tmp_path: Path) -> None:
    client_package = generate(api, tmp_path)
    models = _module("models")
    login = _module("api.auth.login_api_v1_auth_login_post")
    browse = _module("api.catalog.browse_api_v1_products_get")
    quote = _module("api.cart.quote_api_v1_cart_post")
    checkout = _module("api.checkout.checkout_api_v1_checkout_post")
    confirmation = _module("api.checkout.confirmation_api_v1_checkout_identifier_confirmation_get")
    get_order = _module("api.orders.get_order_api_v1_orders_order_id_get")

    anonymous = client_package.Client(base_url=api.url, raise_on_unexpected_status=True)
    signed_in = login.sync_detailed(
        client=anonymous,
        body=models.LoginIn(email=f"denver-green-dispensary@{DEMO_DOMAIN}", password=DEMO_PASSWORD),
    )
    assert signed_in.status_code == 200
    assert isinstance(signed_in.parsed, models.DataResponseLoginResult)
    token = signed_in.parsed.data.access_token
    assert signed_in.headers["x-pf-token"] == token
    buyer = client_package.AuthenticatedClient(base_url=api.url, token=token, raise_on_unexpected_status=True)

    found = browse.sync_detailed(client=buyer, state="CO", limit=10)
    assert found.status_code == 200
    assert isinstance(found.parsed, models.PageEnvelopeProductSummary)
    products = [
        p for p in found.parsed.data.items if p.is_active and p.inventory and p.inventory.available_qty
    ]
    assert products, "the demo marketplace has Colorado products in stock"
    product = products[0]

    quoted = quote.sync_detailed(
        client=buyer,
        body=models.CartQuoteIn(
            items=[
                models.CartLineIn(
                    product_id=product.id, vendor_store_id=product.vendor_store_id, quantity=product.moq
                )
            ]
        ),
        idempotency_key=f"quote-{uuid.uuid4()}",
    )
    assert quoted.status_code == 200
    cart = quoted.parsed.data
    assert isinstance(cart, models.CartQuote)
    assert cart.total_cents > 0

    placed = checkout.sync_detailed(
        client=buyer,
        body=models.CheckoutIn(
            cart_id=cart.id,
            shipping_address=models.AddressIn.from_dict(DENVER),
            payment_method=models.CheckoutInPaymentMethod.CASH,
        ),
        idempotency_key=f"checkout-{uuid.uuid4()}",
    )
    assert placed.status_code == 201
    result = placed.parsed.data
    assert isinstance(result, models.CheckoutResult)
    assert [order.vendor_store_id for order in result.vendor_orders] == [product.vendor_store_id]
    assert result.rejected_vendors == []

    confirmed = confirmation.sync_detailed(result.checkout_group_id, client=buyer)
    assert confirmed.status_code == 200
    assert confirmed.parsed.data.checkout_group_id == result.checkout_group_id
    [order] = confirmed.parsed.data.vendor_orders
    assert order.total_cents > 0

    read = get_order.sync_detailed(order.order_id, client=buyer)
    assert read.status_code == 200
    detail = read.parsed.data
    assert detail.order.id == order.order_id
    assert detail.vendor_store.id == product.vendor_store_id
    assert [line.product_id for line in detail.line_items] == [product.id]
