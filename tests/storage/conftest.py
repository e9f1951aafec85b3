"""Storage fixtures: the local adapter behind the real app, and the gcs adapter on gcp-storage-emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from gcp_storage_emulator.server import create_server

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.storage.gcs import GcsStorage
from packfinderz.kit.storage.local import LocalStorage
from tests.fixtures.gcs import PRIVATE_BUCKET, PUBLIC_BUCKET, Backend, Emulator, free_port, gcs_settings


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """gcp-storage-emulator in this process (in memory) with a private and a public bucket."""
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=PRIVATE_BUCKET)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        httpx.post(f"{url}/storage/v1/b", json={"name": PUBLIC_BUCKET}).raise_for_status()
        yield Emulator(url, server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def service_account_json() -> str:
    """A service-account key file's JSON with a freshly generated RSA key (signs emulator URLs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "pf-test",
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": "packfinderz-test@pf-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def gcs_storage(emulator: Emulator, service_account_json: str) -> GcsStorage:
    """The gcs adapter on an emptied emulator (buckets kept)."""
    emulator.server.wipe(keep_buckets=True)
    return GcsStorage.from_settings(gcs_settings(emulator, gcp_credentials_json=service_account_json))


@pytest.fixture
async def local_app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    """The application (lifespan running) on the local adapter."""
    application = create_app(app_settings)
    # Storage on its own: without the media module's hook, any signed upload is stored.
    application.state.storage_upload_hook = None
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def local_client(local_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app; it also reaches the absolute URLs the local adapter signs."""
    transport = httpx.ASGITransport(app=local_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def local_storage(local_app: FastAPI) -> LocalStorage:
    storage = local_app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


@pytest.fixture
async def emulator_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


# A plain fixture: it resolves the others by name, outside the event loop the async ones run in.
@pytest.fixture(params=["local", "gcs"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each adapter in turn, with a client for its signed and public URLs."""
    if request.param == "local":
        return Backend(
            "local", request.getfixturevalue("local_storage"), request.getfixturevalue("local_client")
        )
    return Backend("gcs", request.getfixturevalue("gcs_storage"), request.getfixturevalue("emulator_http"))
