"""What only the gcs adapter does: bucket per visibility, V4 signing inputs, credentials, readiness."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.storage import create_storage
from packfinderz.kit.storage.base import StorageUnavailable
from packfinderz.kit.storage.gcs import GcsStorage
from tests.fixtures.gcs import PRIVATE_BUCKET, PUBLIC_BUCKET, Emulator, gcs_settings
from tests.storage.test_contract import make_key


async def object_names(http: httpx.AsyncClient, emulator: Emulator, bucket: str) -> list[str]:
    response = await http.get(f"{emulator.url}/storage/v1/b/{bucket}/o")
    response.raise_for_status()
    return sorted(item["name"] for item in response.json().get("items", []))


async def test_public_kinds_live_in_the_public_bucket(
    gcs_storage: GcsStorage, emulator: Emulator, emulator_http: httpx.AsyncClient
) -> None:
    public = make_key("ads", "mp4")
    private = make_key("license_doc", "pdf")
    await gcs_storage.put(public, b"video", "video/mp4")
    await gcs_storage.put(private, b"%PDF", "application/pdf")
    assert await object_names(emulator_http, emulator, PUBLIC_BUCKET) == [public]
    assert await object_names(emulator_http, emulator, PRIVATE_BUCKET) == [private]
    assert gcs_storage.public_url(public) == f"{emulator.url}/{PUBLIC_BUCKET}/{public}"


def test_production_urls_point_at_google(service_account_json: str) -> None:
    settings = gcs_settings(
        Emulator("", None), storage_emulator_host=None, gcp_credentials_json=service_account_json
    )
    storage = create_storage(settings)
    assert isinstance(storage, GcsStorage)
    key = make_key("product", "png")
    assert storage.public_url(key) == f"https://storage.googleapis.com/{PUBLIC_BUCKET}/{quote(key)}"


async def test_signed_put_binds_content_type_and_size_range(service_account_json: str) -> None:
    settings = gcs_settings(
        Emulator("", None), storage_emulator_host=None, gcp_credentials_json=service_account_json
    )
    storage = GcsStorage.from_settings(settings)
    key = make_key("license_doc", "pdf")
    signed = await storage.presign_put(key, "application/pdf", 2048, expires=900)
    parts = urlsplit(signed.url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://storage.googleapis.com/{PRIVATE_BUCKET}/{key}"
    )
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["900"]
    assert query["X-Goog-Credential"][0].startswith("packfinderz-test@pf-test.iam.gserviceaccount.com/")
    assert query["X-Goog-SignedHeaders"] == ["content-type;host;x-goog-content-length-range"]
    assert signed.headers == {"Content-Type": "application/pdf", "x-goog-content-length-range": "0,2048"}

    read = await storage.presign_get(key, expires=60)
    assert parse_qs(urlsplit(read.url).query)["X-Goog-SignedHeaders"] == ["host"]


async def test_credentials_from_a_key_file(
    emulator: Emulator, service_account_json: str, tmp_path: Path, emulator_http: httpx.AsyncClient
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(service_account_json)
    storage = GcsStorage.from_settings(gcs_settings(emulator, google_application_credentials=str(key_file)))
    key = make_key("pdf", "pdf")
    signed = await storage.presign_put(key, "application/pdf", 10, expires=60)
    assert "packfinderz-test%40pf-test.iam.gserviceaccount.com" in signed.url
    response = await emulator_http.put(signed.url, headers=signed.headers, content=b"%PDF")
    assert response.is_success
    assert await storage.get(key) == (b"%PDF", "application/pdf")


async def test_emulator_without_credentials_still_signs(
    emulator: Emulator, emulator_http: httpx.AsyncClient
) -> None:
    storage = GcsStorage.from_settings(gcs_settings(emulator))
    key = make_key("store", "png")
    signed = await storage.presign_put(key, "image/png", 10, expires=60)
    response = await emulator_http.put(signed.url, headers=signed.headers, content=b"png")
    assert response.is_success
    assert await storage.get(key) == (b"png", "image/png")


async def test_signing_failure_is_a_storage_dependency_error(gcs_storage: GcsStorage) -> None:
    unsigned = GcsStorage(
        gcs_storage._client,
        AnonymousCredentials(),  # type: ignore[no-untyped-call]
        PRIVATE_BUCKET,
        PUBLIC_BUCKET,
        "http://unused",
    )
    with pytest.raises(StorageUnavailable) as raised:
        await unsigned.presign_put(make_key(), "application/pdf", 10, expires=60)
    assert raised.value.status == 503
    assert raised.value.details == {"dependency": "storage"}


async def test_probe_fails_when_a_bucket_is_missing(emulator: Emulator, service_account_json: str) -> None:
    storage = GcsStorage.from_settings(
        gcs_settings(
            emulator, gcs_public_bucket_name="no-such-bucket", gcp_credentials_json=service_account_json
        )
    )
    with pytest.raises(LookupError, match="bucket no-such-bucket not found"):
        await storage.probe()


async def ready(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            return await http.get("/health/ready")


async def test_readiness_reports_gcs_storage(
    settings: Settings, emulator: Emulator, service_account_json: str
) -> None:
    gcs = gcs_settings(emulator, gcp_credentials_json=service_account_json)
    fields = {name: getattr(gcs, name) for name in gcs.model_fields_set}
    response = await ready(settings.model_copy(update=fields))
    assert response.status_code == 200, response.text
    storage = response.json()["data"]["checks"]["storage"]
    assert storage["status"] == "ok"
    assert storage["adapter"] == "gcs"

    broken = settings.model_copy(update={**fields, "gcs_bucket_name": "no-such-bucket"})
    response = await ready(broken)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["details"]["dependency"] == "storage"
    assert error["details"]["checks"]["storage"]["status"] == "fail"


async def test_readiness_reports_local_storage(settings: Settings, tmp_path: Path) -> None:
    response = await ready(settings.model_copy(update={"storage_local_dir": str(tmp_path / "storage")}))
    assert response.status_code == 200, response.text
    storage = response.json()["data"]["checks"]["storage"]
    assert storage["status"] == "ok"
    assert storage["adapter"] == "local"
    assert list((tmp_path / "storage").iterdir()) == []  # the probe file was removed

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    response = await ready(settings.model_copy(update={"storage_local_dir": str(blocker)}))
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["details"]["dependency"] == "storage"
    assert error["details"]["checks"]["storage"]["status"] == "fail"
    assert error["details"]["checks"]["storage"]["error"] == "StorageUnavailable: dependency unavailable"
