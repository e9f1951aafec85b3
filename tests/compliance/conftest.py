"""Compliance fixtures: storage, buyer, vendor, admin (helpers live in tests/fixtures/compliance.py)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.storage.local import LocalStorage
from tests.fixtures.events import pubsub_emulator  # noqa: F401 - a fixture for the gcs notification tests
from tests.fixtures.factories import Account, admin_headers, register_buyer, register_vendor


@pytest.fixture
def storage(app: FastAPI) -> LocalStorage:
    found = app.state.storage
    assert isinstance(found, LocalStorage)
    return found


@pytest.fixture
async def buyer(client: httpx.AsyncClient) -> Account:
    return await register_buyer(client)


@pytest.fixture
async def vendor(client: httpx.AsyncClient) -> Account:
    return await register_vendor(client)


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, settings: Settings) -> dict[str, str]:
    """Headers of a logged-in admin."""
    return await admin_headers(client, db, settings)
