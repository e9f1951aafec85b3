"""The local adapter's HTTP routes: signed upload and download, public reads, the confirmation hook."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.errors import Conflict
from packfinderz.kit.storage.base import ObjectInfo, Storage, StorageKey
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.kit.storage.uploads import install_upload_hook
from tests.storage.test_contract import make_key

PDF = b"%PDF-1.7\n" + b"x" * 100


def files_under(root: Path) -> list[str]:
    """Every file (hidden temp and sidecar files included) below the storage folder."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def with_query(url: str, **changes: str) -> str:
    """The URL with some query parameters replaced (a client tampering with a signed URL)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


async def test_signed_upload_stores_the_object_and_answers_201(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key("license_doc", "pdf")
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    assert signed.url.startswith("http://localhost:8080/api/storage/v1/upload/" + key + "?")

    response = await local_client.put(signed.url, headers=signed.headers, content=PDF)

    assert response.status_code == 201, response.text
    assert response.json() == {
        "data": {"storage_key": key, "size_bytes": len(PDF), "content_type": "application/pdf"}
    }
    assert await local_storage.get(key) == (PDF, "application/pdf")
    # only the object and its content-type sidecar: no temp file left behind
    assert files_under(local_storage.root) == sorted([key, str(Path(key).parent / f".{Path(key).name}.type")])


async def test_upload_may_be_repeated_and_the_last_one_wins(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key("product", "png")
    signed = await local_storage.presign_put(key, "image/png", 100, expires=900)
    assert (await local_client.put(signed.url, headers=signed.headers, content=b"first")).status_code == 201
    assert (await local_client.put(signed.url, headers=signed.headers, content=b"again")).status_code == 201
    assert await local_storage.get(key) == (b"again", "image/png")


async def test_chunked_upload_without_length_is_streamed(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key("pdf", "pdf")
    signed = await local_storage.presign_put(key, "application/pdf", 300_000, expires=900)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"a" * 65_536

    response = await local_client.put(signed.url, headers=signed.headers, content=body())
    assert response.status_code == 201, response.text
    assert response.json()["data"]["size_bytes"] == 4 * 65_536
    assert (await local_storage.head(key)) == ObjectInfo(size=4 * 65_536, content_type="application/pdf")


async def test_tampered_signature_is_403_and_stores_nothing(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    sig = parse_qs(urlsplit(signed.url).query)["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for url in (
        with_query(signed.url, sig=flipped),
        with_query(signed.url, max_bytes="10000000"),
        with_query(signed.url, content_type="image/png"),
        with_query(signed.url, expires=str(int(parse_qs(urlsplit(signed.url).query)["expires"][0]) + 3600)),
        with_query(signed.url, sig=""),
        signed.url.replace(key, make_key()),
        signed.url.split("?")[0],
    ):
        headers = {"Content-Type": parse_qs(urlsplit(url).query).get("content_type", ["application/pdf"])[0]}
        response = await local_client.put(url, headers=headers, content=PDF)
        assert response.status_code == 403, (url, response.text)
        assert response.json() == {
            "error": {"code": "FORBIDDEN", "message": "invalid signature", "details": None}
        }
    assert files_under(local_storage.root) == []


async def test_expired_url_is_403_and_stores_nothing(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=-5)
    response = await local_client.put(signed.url, headers=signed.headers, content=PDF)
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "FORBIDDEN", "message": "signed URL expired", "details": None}
    assert files_under(local_storage.root) == []


async def test_wrong_content_type_is_400_and_stores_nothing(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    for sent in ({"Content-Type": "image/png"}, {}):
        response = await local_client.put(signed.url, headers=sent, content=PDF)
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "VALIDATION_ERROR",
            "message": "content type does not match the signed upload",
            "details": {"content_type": "must be application/pdf"},
        }
    assert files_under(local_storage.root) == []


async def test_content_type_parameters_and_case_are_ignored(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    response = await local_client.put(
        signed.url, headers={"Content-Type": "Application/PDF; charset=binary"}, content=PDF
    )
    assert response.status_code == 201
    assert await local_storage.get(key) == (PDF, "application/pdf")


async def test_oversized_body_is_413_and_stores_nothing(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 50, expires=900)

    declared = await local_client.put(signed.url, headers=signed.headers, content=b"x" * 51)

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 40
        yield b"x" * 40

    streamed = await local_client.put(signed.url, headers=signed.headers, content=body())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "PAYLOAD_TOO_LARGE",
            "message": "upload exceeds the signed size",
            "details": None,
        }
    # the streamed attempt was cut off: its temporary file is gone too
    assert files_under(local_storage.root) == []


async def test_exactly_the_signed_size_is_accepted(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 50, expires=900)
    response = await local_client.put(signed.url, headers=signed.headers, content=b"x" * 50)
    assert response.status_code == 201


async def test_path_tricks_are_400_on_every_route(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    store, media = uuid.uuid4(), uuid.uuid4()
    tricks = {
        f"{store}/product/%2e%2e/%2e%2e/{media}.png": "must not contain '..'",
        f"{store}%5Cproduct%5C{media}.png": "must not contain '\\'",
        f"/{store}/product/{media}.png": "must not start with '/'",
        f"{store}/product/{media}.png.sh": "must be {store_id}/{kind}/{media_id}[.{ext}]",
    }
    for trick, reason in tricks.items():
        for method, prefix in (
            ("PUT", "/api/storage/v1/upload/"),
            ("GET", "/api/storage/v1/objects/"),
            ("GET", "/api/storage/v1/public/"),
        ):
            response = await local_client.request(
                method,
                f"{prefix}{trick}?expires=1&sig=x",
                headers={"Content-Type": "image/png"},
                content=b"x",
            )
            assert response.status_code == 400, (method, prefix, trick, response.text)
            assert response.json()["error"]["details"] == {"key": reason}
    assert files_under(local_storage.root) == []


async def test_signed_download_serves_bytes_inline(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key("license_doc", "pdf")
    await local_storage.put(key, PDF, "application/pdf")
    signed = await local_storage.presign_get(key, expires=3600)
    response = await local_client.get(signed.url)
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == "inline"


async def test_signed_download_refuses_tampered_expired_and_missing(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    key = make_key("license_doc", "pdf")
    await local_storage.put(key, PDF, "application/pdf")
    signed = await local_storage.presign_get(key, expires=3600)
    other = make_key("license_doc", "pdf")
    await local_storage.put(other, PDF, "application/pdf")

    assert (await local_client.get(with_query(signed.url, sig="forged"))).status_code == 403
    assert (await local_client.get(signed.url.replace(key, other))).status_code == 403
    assert (await local_client.get(signed.url.split("?")[0])).status_code == 403
    expired = await local_storage.presign_get(key, expires=-1)
    response = await local_client.get(expired.url)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "signed URL expired"
    # a PUT signature does not open a GET
    put = await local_storage.presign_put(key, "application/pdf", 10, expires=60)
    assert (await local_client.get(put.url.replace("/upload/", "/objects/"))).status_code == 403

    missing = await local_storage.presign_get(make_key(), expires=60)
    response = await local_client.get(missing.url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_public_route_serves_public_kinds_only(
    local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    public = make_key("store", "jpg")
    private = make_key("license_doc", "pdf")
    await local_storage.put(public, b"jpeg-bytes", "image/jpeg")
    await local_storage.put(private, PDF, "application/pdf")

    response = await local_client.get(local_storage.public_url(public))
    assert response.status_code == 200
    assert response.content == b"jpeg-bytes"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, max-age=86400"

    for key in (private, make_key("product", "png")):
        response = await local_client.get(f"/api/storage/v1/public/{key}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


class RecordingHook:
    """An upload hook that records calls and can refuse uploads, as the media module does."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls: list[tuple[str, str, ObjectInfo | None]] = []

    async def before_commit(self, session: AsyncSession, key: StorageKey) -> None:
        self.calls.append(("before", key.key, None))
        if self.refuse:
            raise Conflict("upload already confirmed")

    async def after_commit(
        self, session: AsyncSession, storage: Storage, key: StorageKey, info: ObjectInfo
    ) -> None:
        self.calls.append(("after", key.key, info))


async def test_upload_calls_the_installed_hook_around_the_commit(
    local_app: FastAPI, local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    hook = RecordingHook()
    install_upload_hook(local_app, hook)
    key = make_key("coa", "pdf")
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    response = await local_client.put(signed.url, headers=signed.headers, content=PDF)
    assert response.status_code == 201
    assert hook.calls == [
        ("before", key, None),
        ("after", key, ObjectInfo(size=len(PDF), content_type="application/pdf")),
    ]


async def test_hook_refusal_keeps_the_object_out(
    local_app: FastAPI, local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    hook = RecordingHook(refuse=True)
    install_upload_hook(local_app, hook)
    key = make_key("coa", "pdf")
    signed = await local_storage.presign_put(key, "application/pdf", 1000, expires=900)
    response = await local_client.put(signed.url, headers=signed.headers, content=PDF)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "upload already confirmed"
    assert hook.calls == [("before", key, None)]
    assert files_under(local_storage.root) == []


async def test_hook_is_not_called_for_refused_signatures(
    local_app: FastAPI, local_client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    hook = RecordingHook()
    install_upload_hook(local_app, hook)
    key = make_key()
    signed = await local_storage.presign_put(key, "application/pdf", 10, expires=900)
    assert (await local_client.put(with_query(signed.url, sig="x"), content=PDF)).status_code == 403
    assert (await local_client.put(signed.url, headers=signed.headers, content=PDF)).status_code == 413
    assert hook.calls == []
