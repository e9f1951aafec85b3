"""Transport manifests (commerce.md §9.7): a real PDF in storage, attached as media, read by every party
through its own route and a signed URL."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pypdf import PdfReader

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.compliance import decide as decide_license
from tests.fixtures.compliance import submit_license
from tests.fixtures.db import rows
from tests.fixtures.orders import (
    agent_post,
    decide_line,
    in_transit,
    new_admin,
    new_agent,
    ok,
    order_row,
    place,
    post,
    snapshot,
)


async def download(client: httpx.AsyncClient, url: str) -> bytes:
    """Fetch a signed URL exactly as a client would (the local adapter serves it from the API)."""
    parts = urlsplit(url)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_the_vendor_generates_a_pdf_every_party_can_read(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await new_admin(client, db, settings)
    placed = await place(client, db, ((3, 2),))
    vendor, buyer = placed.vendors[0], placed.buyer
    numbers = {}
    for account in (vendor, buyer):
        license_ = await submit_license(client, account)
        assert (await decide_license(client, admin, license_["id"], "verified")).status_code == 200
        numbers[account.store_id] = license_["number"]
    agent = await new_agent(client, db, settings)
    order = placed.order
    rejected_line = order["items"][1]["line_item_id"]
    await ok(await decide_line(client, vendor, placed.order_id, order["items"][0]["line_item_id"], "fulfill"))
    await ok(await decide_line(client, vendor, placed.order_id, rejected_line, "reject"))
    await ok(await agent_post(client, agent, placed.order_id, "claim"))
    await ok(await agent_post(client, agent, placed.order_id, "pickup"))
    await client.patch("/api/v1/stores/me", json={"phone": "405-555-0100"}, headers=vendor.headers)

    response = await post(
        client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", vendor.headers, key="m-1"
    )
    manifest = await ok(response, 201)
    assert manifest["order_id"] == placed.order_id
    assert manifest["file_name"] == f"manifest-{order['order_number']}.pdf"
    media_id = uuid.UUID(manifest["media_id"])

    [media] = await rows(db, "SELECT * FROM media WHERE id = :id", id=media_id)
    assert (media["kind"], media["status"], media["mime_type"]) == ("manifest", "uploaded", "application/pdf")
    assert (media["store_id"], media["user_id"]) == (vendor.store_id, vendor.user_id)
    assert media["storage_key"] == f"{vendor.store_id}/manifest/{media_id}.pdf"
    [attachment] = await rows(db, "SELECT * FROM media_attachments WHERE media_id = :id", id=media_id)
    assert (attachment["entity_type"], attachment["entity_id"], attachment["store_id"]) == (
        "order_manifest",
        uuid.UUID(placed.order_id),
        vendor.store_id,
    )
    row = await order_row(db, placed.order_id)
    assert row["manifest_media_id"] == media_id
    assert row["manifest_generated_at"] is not None

    content = await download(client, manifest["download_url"])
    assert media["size_bytes"] == len(content)
    text = pdf_text(content)
    stores = {
        s["id"]: s
        for s in await rows(
            db,
            "SELECT id, company_name FROM stores WHERE id = ANY(:ids)",
            ids=[vendor.store_id, buyer.store_id],
        )
    }
    for expected in (
        f"Order number: {order['order_number']}",
        placed.order_id,
        stores[vendor.store_id]["company_name"],
        stores[buyer.store_id]["company_name"],
        f"License: {numbers[vendor.store_id]} (dispensary, OK)",
        f"License: {numbers[buyer.store_id]} (dispensary, OK)",
        "Phone: 405-555-0100",
        "Product 1",
        str(placed.products[0][0]["sku"]),
        "eighth",
        f"Delivery agent: Agent User ({agent.id})",
        "Picked up: 20",
    ):
        assert expected in text, expected
    assert "Product 2" not in text  # the rejected line is not transported
    assert "Delivered: -" in text

    # Every audience reads the current version on its own route.
    for path, headers in (
        (f"/api/v1/orders/{placed.order_id}/manifest", buyer.headers),
        (f"/api/v1/orders/{placed.order_id}/manifest", vendor.headers),
        (f"/api/v1/agent/orders/{placed.order_id}/manifest", agent.headers),
        (f"/api/admin/v1/orders/{placed.order_id}/manifest", admin),
    ):
        read = await ok(await client.get(path, headers=headers))
        assert read["media_id"] == str(media_id)
        assert await download(client, read["download_url"]) == content

    # Same key: the same version replays; a new key makes a new current version.
    replay = await post(
        client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", vendor.headers, key="m-1"
    )
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["data"]["media_id"] == str(media_id)
    newer = await ok(
        await post(client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", vendor.headers), 201
    )
    assert newer["media_id"] != str(media_id)
    current = await ok(await client.get(f"/api/v1/orders/{placed.order_id}/manifest", headers=buyer.headers))
    assert current["media_id"] == newer["media_id"]
    assert (
        len(
            await rows(
                db, "SELECT 1 FROM media_attachments WHERE entity_id = :id", id=uuid.UUID(placed.order_id)
            )
        )
        == 2
    )
    # The attachment protects the file from deletion.
    assert (await client.delete(f"/api/v1/media/{media_id}", headers=vendor.headers)).status_code == 409


async def test_manifest_access_rules(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    admin = await new_admin(client, db, settings)
    holder, stranger = await new_agent(client, db, settings), await new_agent(client, db, settings)
    placed = await in_transit(client, db, holder)
    other = await place(client, db)
    no_manifest = await client.get(f"/api/v1/orders/{placed.order_id}/manifest", headers=placed.buyer.headers)
    assert no_manifest.status_code == 404
    assert (
        await client.get(f"/api/admin/v1/orders/{uuid.uuid4()}/manifest", headers=admin)
    ).status_code == 404
    await ok(
        await post(client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", placed.vendors[0].headers),
        201,
    )

    for path, headers in (
        (f"/api/v1/orders/{placed.order_id}/manifest", other.buyer.headers),
        (f"/api/v1/orders/{placed.order_id}/manifest", other.vendors[0].headers),
        (f"/api/v1/agent/orders/{placed.order_id}/manifest", stranger.headers),
        (f"/api/admin/v1/orders/{placed.order_id}/manifest", holder.headers),
        (f"/api/v1/agent/orders/{placed.order_id}/manifest", admin),
    ):
        assert (await client.get(path, headers=headers)).status_code == 403, path
    before = await snapshot(db, placed.order_id)
    foreign = await post(
        client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", other.vendors[0].headers
    )
    assert foreign.status_code == 403
    as_buyer = await post(client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", placed.buyer.headers)
    assert as_buyer.status_code == 403
    assert await snapshot(db, placed.order_id) == before


async def test_a_storage_failure_persists_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, app_settings: Settings
) -> None:
    holder = await new_agent(client, db, settings)
    placed = await in_transit(client, db, holder)
    # The vendor's folder is taken by a file, so the adapter cannot write there.
    root = Path(app_settings.storage_local_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / str(placed.vendors[0].store_id)).write_bytes(b"in the way")
    before = await snapshot(db, placed.order_id)
    response = await post(
        client, f"/api/v1/vendor/orders/{placed.order_id}/manifest", placed.vendors[0].headers
    )
    assert response.status_code == 503
    assert response.json()["error"]["details"] == {"dependency": "storage"}
    assert await snapshot(db, placed.order_id) == before
