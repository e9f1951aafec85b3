"""The console in a real browser: Debian's Chromium (Playwright) against the api served by uvicorn.

Data is set up through the API in-process (same database, Redis and storage folder as the live server);
every change made in the browser is then checked through the API. Screenshots of the dashboard and the
license queue land in var/screenshots/ (not committed).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.compliance import license_body, uploaded
from tests.fixtures.console import (
    SCREENSHOTS,
    accessibility_basics,
    browser_sign_in,
    chromium,
    dead_letter,
    live_api,
)
from tests.fixtures.db import scalar
from tests.fixtures.factories import Account, create_admin, idem, register_vendor
from tests.fixtures.orders import agent_post, beat, delivered, new_admin, new_agent, ok


def png(width: int = 40, height: int = 24) -> bytes:
    """A real (solid green) PNG, so the browser can decode and lay it out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\xa0\x40" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def license_with(
    client: httpx.AsyncClient, vendor: Account, *, mime: str, content: bytes, name: str
) -> str:
    upload = await uploaded(client, vendor, mime=mime, content=content, name=name)
    response = await client.post(
        "/api/v1/licenses", json=license_body(upload.media_id), headers={**vendor.headers, **idem()}
    )
    assert response.status_code == 201, response.text
    license_id: str = response.json()["data"]["id"]
    return license_id


async def api_data(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    return await ok(await client.get(path, headers=headers))


async def flash(page: Page, text: str) -> None:
    await expect(page.locator(".flash.ok")).to_contain_text(text)


async def test_an_admin_does_the_days_work_in_the_browser(
    client: httpx.AsyncClient, db: Database, settings: Settings, app_settings: Settings
) -> None:
    admin_user = await create_admin(db, settings)
    admin = await new_admin(client, db, settings)
    first = await register_vendor(client, company_name="Green Leaf Wholesale")
    second = await register_vendor(client, company_name="Blue Ridge Farms")
    approved = await license_with(client, first, mime="image/png", content=png(), name="license.png")
    rejected = await license_with(
        client, second, mime="application/pdf", content=b"%PDF-1.7\n" + b"0" * 64, name="l.pdf"
    )
    agent = await new_agent(client, db, settings)
    payout = await delivered(client, db, agent)
    await ok(await agent_post(client, agent, payout.order_id, "cash-collected"))
    event_id = await dead_letter(db)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    assert app_settings.storage_local_dir is not None
    async with live_api(settings, Path(app_settings.storage_local_dir)) as base, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 1000})
        await browser_sign_in(page, base, admin_user.email, admin_user.password)
        await expect(page).to_have_url(f"{base}/console")
        await expect(page.locator("#licenses-pending")).to_have_text("2")
        await expect(page.locator("#payouts-pending")).to_have_text("1")
        await expect(page.locator("#dead-letters")).to_have_text("1")
        await expect(page.locator("body")).to_have_attribute("data-charts-ready", "true")
        await accessibility_basics(page)
        await page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

        # License queue: the oldest first, its document shown inline; approve it.
        await page.get_by_role("link", name="Licenses", exact=True).click()
        await expect(page.locator("#license-title")).to_have_text("Green Leaf Wholesale")
        document = page.locator("img#document")
        await expect(document).to_be_visible()
        assert await document.evaluate("img => img.complete && img.naturalWidth") == 40
        await accessibility_basics(page)
        await page.screenshot(path=SCREENSHOTS / "license-queue.png", full_page=True)
        await page.get_by_role("button", name="Approve").click()
        await flash(page, "License approved.")
        assert (await api_data(client, f"/api/admin/v1/licenses/{approved}", admin))["status"] == "verified"

        # The next one (a PDF in a frame): reject it with a reason.
        await expect(page.locator("#license-title")).to_have_text("Blue Ridge Farms")
        await expect(page.locator("iframe#document")).to_be_visible()
        await page.get_by_label("Reason for rejection").fill("The document is unreadable")
        await page.get_by_role("button", name="Reject").click()
        await flash(page, "License rejected.")
        found = await api_data(client, f"/api/admin/v1/licenses/{rejected}", admin)
        assert (found["status"], found["status_reason"]) == ("rejected", "The document is unreadable")
        await expect(page.get_by_text("Nothing to review.")).to_be_visible()

        # Payouts: confirm the one waiting.
        await page.get_by_role("link", name="Payouts").click()
        await accessibility_basics(page)
        await page.get_by_role("button", name="Confirm payout of $").click()
        await flash(page, "Payout confirmed.")
        assert (await api_data(client, "/api/admin/v1/orders/payouts", admin))["items"] == []
        order = await api_data(client, f"/api/v1/orders/{payout.order_id}", payout.vendors[0].headers)
        assert (order["order"]["status"], order["payment_intent"]["status"]) == ("closed", "paid")

        # The order's timeline shows its events, assignment and ledger rows.
        await page.goto(f"{base}/console/orders/{payout.order_id}")
        await accessibility_basics(page)
        await expect(page.get_by_role("cell", name="vendor_payout")).to_be_visible()
        await expect(page.get_by_role("cell", name=agent.user.email + " (active)")).to_be_visible()

        # Events: replay the dead letter.
        await page.get_by_role("link", name="Events").click()
        await accessibility_basics(page)
        await expect(page.get_by_text("storage said 503")).to_be_visible()
        await page.locator(f"#replay-{event_id}").click()
        await flash(page, "Replayed 1 event(s).")
        assert await scalar(db, "SELECT failed_at FROM outbox_events WHERE id = :id", id=event_id) is None

        # Stores: find one, suspend it.
        await page.get_by_role("link", name="Stores").click()
        await accessibility_basics(page)
        await page.get_by_label("Name").fill("Green Leaf")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("link", name="Green Leaf Wholesale").click()
        await accessibility_basics(page)
        await page.get_by_label("Reason for suspending").fill("Compliance hold")
        await page.get_by_role("button", name="Suspend").click()
        await flash(page, "Store suspended.")
        await expect(page.locator("#kyc-status")).to_have_text("suspended")
        store = await api_data(client, f"/api/admin/v1/stores/{first.store_id}", admin)
        assert store["kyc_status"] == "suspended"

        # Every other page meets the basics too.
        for path in ("/console/orders", "/console/agents", "/console/audit?action=store.*"):
            await page.goto(base + path)
            await accessibility_basics(page)
        await expect(page.get_by_role("cell", name="store.admin_override")).to_be_visible()


async def test_visitors_non_admins_and_forged_forms_are_refused_and_agents_refresh_live(
    client: httpx.AsyncClient, db: Database, settings: Settings, app_settings: Settings
) -> None:
    admin_user = await create_admin(db, settings)
    vendor = await register_vendor(client)
    agent = await new_agent(client, db, settings)
    assert app_settings.storage_local_dir is not None
    async with live_api(settings, Path(app_settings.storage_local_dir)) as base, chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/console/payouts")
        await expect(page).to_have_url(f"{base}/console/sign-in?next=%2Fconsole%2Fpayouts")
        await accessibility_basics(page)

        await browser_sign_in(page, base, vendor.email, vendor.password)
        await expect(page.get_by_role("alert")).to_have_text("Invalid credentials.")
        assert not [c for c in await page.context.cookies() if c["name"] == "pf_console"]

        await browser_sign_in(page, base, admin_user.email, admin_user.password)
        await page.goto(f"{base}/console/agents")
        row = page.locator(f'tr[data-agent="{agent.id}"]')
        await expect(row).to_contain_text("offline")
        assert (await beat(client, agent, "available")).status_code == 200
        # No reload: htmx polls the rows every 5 s.
        await expect(row).to_contain_text("available", timeout=12_000)

        await page.goto(f"{base}/console/stores/{vendor.store_id}")
        await page.locator('input[name="csrf_token"]').evaluate_all(
            "fields => fields.forEach(f => f.remove())"
        )
        await page.get_by_label("Reason for suspending").fill("Forged")
        await page.get_by_role("button", name="Suspend").click()
        await expect(page.locator("h1")).to_have_text("Form expired")
        assert (
            await scalar(db, "SELECT kyc_status FROM stores WHERE id = :id", id=vendor.store_id)
            != "suspended"
        )
