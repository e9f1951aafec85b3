"""GCS bucket notifications applied to media rows (the `gcs` confirmation and out-of-band deletes)."""

from __future__ import annotations

import base64
import json
import uuid

import httpx

from packfinderz.kit.db import Database
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.media.storage_events import StorageNotification, apply_notification, parse_notification
from tests.fixtures.compliance import PDF, presign, submit_license, uploaded
from tests.fixtures.db import events, scalar
from tests.fixtures.factories import Account

BUCKETS = {"pf-private", "pf-public"}
ATTRS = {"payloadFormat": "JSON_API_V1", "eventType": "OBJECT_FINALIZE"}


def note(
    event_type: str, key: str, size: int = len(PDF), content_type: str = "application/pdf"
) -> StorageNotification:
    return StorageNotification(event_type, "pf-private", key, size, content_type, overwritten=False)


async def apply(db: Database, storage: LocalStorage, notification: StorageNotification) -> str:
    async with db.transaction() as session:
        return await apply_notification(session, storage, notification)


def test_parse_accepts_base64_or_raw_json_of_our_buckets() -> None:
    payload = {"name": "k", "bucket": "pf-public", "size": "12", "contentType": "image/png"}
    raw = json.dumps(payload).encode()
    for body in (raw, base64.b64encode(raw)):
        parsed = parse_notification(ATTRS, body, BUCKETS)
        assert parsed == StorageNotification("OBJECT_FINALIZE", "pf-public", "k", 12, "image/png", False)
    overwritten = parse_notification({**ATTRS, "overwrittenByGeneration": "2"}, raw, BUCKETS)
    assert overwritten is not None
    assert overwritten.overwritten


def test_parse_drops_what_is_not_ours() -> None:
    good = json.dumps({"name": "k", "bucket": "pf-private"}).encode()
    assert parse_notification({**ATTRS, "payloadFormat": "NONE"}, good, BUCKETS) is None
    assert parse_notification({**ATTRS, "eventType": "OBJECT_METADATA_UPDATE"}, good, BUCKETS) is None
    assert parse_notification(ATTRS, b"{not json", BUCKETS) is None
    assert (
        parse_notification(ATTRS, json.dumps({"name": "", "bucket": "pf-private"}).encode(), BUCKETS) is None
    )
    assert (
        parse_notification(ATTRS, json.dumps({"name": "k", "bucket": "elsewhere"}).encode(), BUCKETS) is None
    )


async def test_finalize_confirms_or_fails_the_upload(
    client: httpx.AsyncClient, vendor: Account, db: Database, storage: LocalStorage
) -> None:
    good = await presign(client, vendor)
    await storage.put(good.storage_key, PDF, "application/pdf")
    assert await apply(db, storage, note("OBJECT_FINALIZE", good.storage_key)) == "confirmed"
    assert await scalar(db, "SELECT status FROM media WHERE id = :id", id=good.media_id) == "uploaded"
    # redelivered: the finalized row is left as it is
    assert await apply(db, storage, note("OBJECT_FINALIZE", good.storage_key, size=1)) == "confirmed"
    assert await scalar(db, "SELECT size_bytes FROM media WHERE id = :id", id=good.media_id) == len(PDF)

    bad = await presign(client, vendor)
    await storage.put(bad.storage_key, PDF, "image/png")
    assert (
        await apply(db, storage, note("OBJECT_FINALIZE", bad.storage_key, content_type="image/png"))
        == "confirmed"
    )
    assert await scalar(db, "SELECT status FROM media WHERE id = :id", id=bad.media_id) == "failed"
    assert await storage.head(bad.storage_key) is None

    unknown = f"{vendor.store_id}/pdf/{uuid.uuid4()}.pdf"
    assert await apply(db, storage, note("OBJECT_FINALIZE", unknown)) == "ignored"
    assert await apply(db, storage, note("OBJECT_FINALIZE", "../etc/passwd")) == "ignored"


async def test_out_of_band_delete_cleans_up_unless_protected(
    client: httpx.AsyncClient, vendor: Account, db: Database, storage: LocalStorage
) -> None:
    loose = await uploaded(client, vendor)
    overwritten = StorageNotification(
        "OBJECT_DELETE", "pf-private", loose.storage_key, 0, "", overwritten=True
    )
    assert await apply(db, storage, overwritten) == "ignored"
    assert await apply(db, storage, note("OBJECT_DELETE", loose.storage_key)) == "removed"
    assert await scalar(db, "SELECT count(*) FROM media WHERE id = :id", id=loose.media_id) == 0
    assert [e["media_id"] for e in await events(db, "media_deleted")] == [str(loose.media_id)]
    assert await apply(db, storage, note("OBJECT_DELETE", loose.storage_key)) == "ignored"

    license_ = await submit_license(client, vendor)
    key = await scalar(db, "SELECT storage_key FROM media WHERE id = :id", id=license_["media_id"])
    assert await apply(db, storage, note("OBJECT_DELETE", key)) == "kept"
    assert await scalar(db, "SELECT count(*) FROM licenses") == 1
