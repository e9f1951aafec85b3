"""Media through HTTP: presign checks, upload confirmation, listing, finalize, delete (identity.md §11)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from packfinderz.kit.db import Database
from packfinderz.kit.storage.gcs import GcsStorage
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.media.jobs import cleanup_pending
from packfinderz.media.service import sanitize_file_name
from tests.fixtures.compliance import PDF, PNG, presign, put_bytes, submit_license, uploaded
from tests.fixtures.db import events, scalar
from tests.fixtures.factories import Account, idem


async def media_count(db: Database) -> int:
    count: int = await scalar(db, "SELECT count(*) FROM media")
    return count


async def post_presign(client: httpx.AsyncClient, account: Account, **body: object) -> httpx.Response:
    full = {"media_kind": "product", "mime_type": "image/png", "file_name": "a.png", "size_bytes": 10, **body}
    return await client.post("/api/v1/media/presign", json=full, headers={**account.headers, **idem()})


async def test_presign_creates_a_pending_row_and_a_signed_upload(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    response = await post_presign(
        client,
        vendor,
        media_kind="license_doc",
        mime_type="Application/PDF; charset=x",
        file_name="Doc 1.PDF",
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    media_id = uuid.UUID(data["media_id"])
    assert data["storage_key"] == f"{vendor.store_id}/license_doc/{media_id}.pdf"
    assert data["upload_method"] == "PUT"
    assert data["upload_headers"] == {"Content-Type": "application/pdf"}
    assert data["upload_url"].startswith(
        f"http://localhost:8080/api/storage/v1/upload/{data['storage_key']}?"
    )
    expires_at = datetime.fromisoformat(data["expires_at"])
    assert timedelta(minutes=14) < expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    async with db.transaction() as session:
        from sqlalchemy import text

        row = (await session.execute(text("SELECT * FROM media WHERE id = :id"), {"id": media_id})).one()
    assert (row.status, row.kind, row.mime_type, row.file_name, row.size_bytes) == (
        "pending",
        "license_doc",
        "application/pdf",
        "Doc-1.PDF",
        10,
    )
    assert (row.store_id, row.user_id) == (vendor.store_id, vendor.user_id)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"media_kind": "avatar"},
            "media_kind",
            "must be one of: product, ads, pdf, license_doc, coa, manifest, user, store, other",
        ),
        ({"file_name": "   "}, "file_name", "must not be blank"),
        ({"size_bytes": 0}, "size_bytes", "must be between 1 and 20971520"),
        ({"size_bytes": 20 * 1024 * 1024 + 1}, "size_bytes", "must be between 1 and 20971520"),
        ({"mime_type": "not a mime"}, "mime_type", "is invalid"),
        ({"mime_type": "application/pdf"}, "mime_type", "product uploads only accept images, videos"),
        ({"media_kind": "coa", "mime_type": "image/png"}, "mime_type", "coa uploads only accept pdf"),
        (
            {"media_kind": "license_doc", "mime_type": "video/mp4"},
            "mime_type",
            "license_doc uploads only accept pdf, images",
        ),
        ({"size_bytes": "10"}, "size_bytes", "must be an integer"),
        ({"size_bytes": 10.5}, "size_bytes", "must be an integer"),
        ({"size_bytes": True}, "size_bytes", "must be an integer"),
        ({"extra": 1}, "extra", "is not allowed"),
    ],
)
async def test_presign_rejects_bad_input_and_creates_nothing(
    client: httpx.AsyncClient,
    *,
    vendor: Account,
    db: Database,
    body: dict[str, object],
    field: str,
    message: str,
) -> None:
    response = await post_presign(client, vendor, **body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"][field] == message
    assert await media_count(db) == 0


async def test_presign_takes_a_whole_json_number_as_the_integer_it_is(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    """Issue #18: `10.0` is an integer by JSON Schema (what the document declares), so it is accepted."""
    response = await post_presign(client, vendor, size_bytes=10.0)
    assert response.status_code == 201, response.text
    assert await media_count(db) == 1


async def test_presign_checks_kind_before_size_before_mime(
    client: httpx.AsyncClient, vendor: Account
) -> None:
    response = await post_presign(client, vendor, media_kind="nope", size_bytes=0, mime_type="x/y")
    assert list(response.json()["error"]["details"]) == ["media_kind"]
    response = await post_presign(client, vendor, size_bytes=0, mime_type="application/pdf")
    assert list(response.json()["error"]["details"]) == ["size_bytes"]


async def test_presign_requires_an_idempotency_key_and_replays(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    body = {"media_kind": "product", "mime_type": "image/png", "file_name": "a.png", "size_bytes": 10}
    missing = await client.post("/api/v1/media/presign", json=body, headers=vendor.headers)
    assert missing.status_code == 400
    headers = {**vendor.headers, **idem("presign-once")}
    first = await client.post("/api/v1/media/presign", json=body, headers=headers)
    again = await client.post("/api/v1/media/presign", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await media_count(db) == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\My  Scan.pdf", "My-Scan.pdf"),
        ("a\x00b\x1fc.png", "abc.png"),
        ("..", "file"),
        (" ._-report-_. ", "report"),
    ],
)
def test_file_names_are_sanitized(raw: str, clean: str) -> None:
    assert sanitize_file_name(raw) == clean


async def test_path_tricks_in_the_file_name_never_reach_the_key(
    client: httpx.AsyncClient, vendor: Account
) -> None:
    upload = await presign(
        client, vendor, kind="product", mime="image/png", name="../../../x/evil.sh", size=5
    )
    assert upload.storage_key == f"{vendor.store_id}/product/{upload.media_id}.png"
    listed = await client.get(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)
    assert listed.json()["data"]["file_name"] == "evil.sh"


async def test_upload_confirms_the_media_and_public_kinds_get_a_public_url(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    upload = await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name="p.png")
    response = await client.get(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)
    data = response.json()["data"]
    assert data["status"] == "uploaded"
    assert data["size_bytes"] == len(PNG)
    assert data["uploaded_at"] is not None
    assert data["url"] == f"http://localhost:8080/api/storage/v1/public/{upload.storage_key}"
    assert "storage_key" not in data
    public = await client.get(data["url"])
    assert public.status_code == 200
    assert public.content == PNG


async def test_private_media_get_a_fresh_signed_url(client: httpx.AsyncClient, vendor: Account) -> None:
    upload = await uploaded(client, vendor)
    data = (await client.get(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)).json()["data"]
    assert "/api/storage/v1/objects/" in data["url"]
    assert "sig=" in data["url"]
    download = await client.get(data["url"])
    assert download.status_code == 200
    assert download.content == PDF


async def test_pending_media_have_no_url(client: httpx.AsyncClient, vendor: Account) -> None:
    upload = await presign(client, vendor)
    data = (await client.get(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)).json()["data"]
    assert data["status"] == "pending"
    assert data["url"] is None


async def test_upload_after_confirmation_is_409_and_keeps_the_first_object(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    upload = await uploaded(client, vendor)
    response = await put_bytes(client, upload, b"%PDF-other")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "upload already finalized"
    assert await storage.get(upload.storage_key) == (PDF, "application/pdf")


async def test_upload_of_an_unknown_key_is_404_and_stores_nothing(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    key = f"{vendor.store_id}/pdf/{uuid.uuid4()}.pdf"
    signed = await storage.presign_put(key, "application/pdf", 100, expires=60)
    response = await client.put(signed.url, headers=signed.headers, content=PDF)
    assert response.status_code == 404
    assert await storage.head(key) is None


async def test_mismatched_upload_leaves_the_media_pending(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    upload = await presign(client, vendor, size=10)
    wrong_type = await client.put(
        upload.data["upload_url"], headers={"Content-Type": "image/png"}, content=b"x" * 10
    )
    too_big = await put_bytes(client, upload, b"x" * 11)
    assert (wrong_type.status_code, too_big.status_code) == (400, 413)
    data = (await client.get(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)).json()["data"]
    assert data["status"] == "pending"
    assert await storage.head(upload.storage_key) is None


async def test_finalize_confirms_an_object_already_in_storage(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    upload = await presign(client, vendor, kind="store", mime="image/png", name="logo.png", size=len(PNG))
    missing = await client.post(f"/api/v1/media/{upload.media_id}/finalize", headers=vendor.headers)
    assert missing.status_code == 409
    assert missing.json()["error"]["message"] == "upload not found in storage"

    await storage.put(upload.storage_key, PNG, "image/png")  # as a gcs client uploads straight to the bucket
    response = await client.post(f"/api/v1/media/{upload.media_id}/finalize", headers=vendor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "uploaded"
    again = await client.post(f"/api/v1/media/{upload.media_id}/finalize", headers=vendor.headers)
    assert again.json()["data"]["status"] == "uploaded"


async def test_finalize_fails_an_object_that_breaks_the_declaration(
    client: httpx.AsyncClient, vendor: Account, storage: LocalStorage
) -> None:
    upload = await presign(client, vendor, kind="store", mime="image/png", name="logo.png", size=4)
    await storage.put(upload.storage_key, b"way too large", "image/png")
    response = await client.post(f"/api/v1/media/{upload.media_id}/finalize", headers=vendor.headers)
    assert response.json()["data"]["status"] == "failed"
    assert response.json()["data"]["url"] is None
    assert await storage.head(upload.storage_key) is None  # the offending object is deleted


async def test_list_filters_searches_and_pages_with_total(client: httpx.AsyncClient, vendor: Account) -> None:
    doc = await uploaded(client, vendor, name="Permit_2025.pdf")
    image = await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name="shot.png")
    pending = await presign(client, vendor, kind="pdf", name="100%_sure.pdf")

    async def ids(query: str) -> tuple[list[str], int]:
        response = await client.get(f"/api/v1/media{query}", headers=vendor.headers)
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        return [item["id"] for item in body["items"]], body["total"]

    assert await ids("") == ([str(pending.media_id), str(image.media_id), str(doc.media_id)], 3)
    assert await ids("?kind=product") == ([str(image.media_id)], 1)
    assert await ids("?status=pending") == ([str(pending.media_id)], 1)
    assert await ids("?mime_type=image/png") == ([str(image.media_id)], 1)
    assert await ids("?search=PERMIT") == ([str(doc.media_id)], 1)
    assert await ids("?search=_2025") == ([str(doc.media_id)], 1)
    assert await ids("?search=%25") == ([str(pending.media_id)], 1)  # a literal %, not a wildcard
    first = (await client.get("/api/v1/media?limit=2", headers=vendor.headers)).json()["data"]
    assert len(first["items"]) == 2
    assert first["total"] == 3
    second = (
        await client.get(f"/api/v1/media?limit=2&cursor={first['next_cursor']}", headers=vendor.headers)
    ).json()["data"]
    assert [item["id"] for item in second["items"]] == [str(doc.media_id)]
    assert second["next_cursor"] is None
    for bad in ("?kind=avatar", "?status=done", "?limit=0", "?cursor=%%%"):
        assert (await client.get(f"/api/v1/media{bad}", headers=vendor.headers)).status_code == 400


async def test_delete_removes_the_row_and_announces_the_object(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    upload = await uploaded(client, vendor, kind="store", mime="image/png", content=PNG, name="logo.png")
    await db_set_logo(db, vendor, upload.media_id)
    response = await client.delete(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)
    assert response.status_code == 204
    assert await media_count(db) == 0
    assert await scalar(db, "SELECT logo_media_id FROM stores WHERE id = :id", id=vendor.store_id) is None
    assert await scalar(db, "SELECT logo_url FROM stores WHERE id = :id", id=vendor.store_id) is None
    assert await scalar(db, "SELECT count(*) FROM media_attachments") == 0
    assert await events(db, "media_deleted") == [
        {
            "media_id": str(upload.media_id),
            "store_id": str(vendor.store_id),
            "storage_key": upload.storage_key,
        }
    ]
    again = await client.delete(f"/api/v1/media/{upload.media_id}", headers=vendor.headers)
    assert again.status_code == 404


async def db_set_logo(db: Database, account: Account, media_id: uuid.UUID) -> None:
    """Attach a media as the store logo the way PATCH /stores/me does (reconciler + columns)."""
    from packfinderz.media.attachments import reconcile

    async with db.transaction() as session:
        from sqlalchemy import text

        await session.execute(
            text("UPDATE stores SET logo_media_id = :m, logo_url = 'http://x/logo' WHERE id = :s"),
            {"m": media_id, "s": account.store_id},
        )
        assert account.store_id is not None
        await reconcile(
            session,
            entity_type="store_logo",
            entity_id=account.store_id,
            store_id=account.store_id,
            old_media_ids=[],
            new_media_ids=[media_id],
        )


async def test_delete_is_refused_while_a_license_uses_the_media(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    license_ = await submit_license(client, vendor)
    response = await client.delete(f"/api/v1/media/{license_['media_id']}", headers=vendor.headers)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "media has protected attachments: license"
    assert await media_count(db) == 1
    assert await events(db, "media_deleted") == []


async def test_other_stores_media_and_missing_media_are_404(
    client: httpx.AsyncClient, vendor: Account, buyer: Account, db: Database
) -> None:
    upload = await uploaded(client, vendor)
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/finalize")):
        response = await client.request(
            method, f"/api/v1/media/{upload.media_id}{suffix}", headers=buyer.headers
        )
        assert response.status_code == 404, (method, suffix)  # issue #17: was 403
        missing = await client.request(method, f"/api/v1/media/{uuid.uuid4()}{suffix}", headers=buyer.headers)
        assert missing.status_code == 404
    assert await media_count(db) == 1
    listed = (await client.get("/api/v1/media", headers=buyer.headers)).json()["data"]
    assert listed == {"items": [], "next_cursor": None, "total": 0}


async def test_pending_cleanup_removes_week_old_pending_media_only(
    client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    stale = await presign(client, vendor)
    done = await uploaded(client, vendor)
    fresh_now = datetime.now(UTC)
    assert await cleanup_pending(db, fresh_now) == {"media_deleted": 0, "attachments_deleted": 0, "failed": 0}
    later = fresh_now + timedelta(days=7, minutes=1)
    assert await cleanup_pending(db, later) == {"media_deleted": 1, "attachments_deleted": 0, "failed": 0}
    remaining = await scalar(db, "SELECT array_agg(id) FROM media")
    assert remaining == [done.media_id]
    assert [e["media_id"] for e in await events(db, "media_deleted")] == [str(stale.media_id)]
    assert await cleanup_pending(db, later) == {"media_deleted": 0, "attachments_deleted": 0, "failed": 0}


async def test_signing_failure_is_503_and_leaves_no_row(
    app: FastAPI, client: httpx.AsyncClient, vendor: Account, db: Database
) -> None:
    # A gcs adapter whose credentials cannot sign: a real signing failure, no network involved.
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    unsigned = gcs.Client(project="pf-test", credentials=anonymous)
    app.state.storage = GcsStorage(unsigned, anonymous, "private", "public", "http://x")
    response = await post_presign(client, vendor)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "DEPENDENCY_ERROR",
        "message": "dependency unavailable",
        "details": {"dependency": "storage"},
    }
    assert await media_count(db) == 0
