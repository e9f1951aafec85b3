"""Security test fixtures (issue #17): the root fixtures plus a signed-in admin."""

from __future__ import annotations

import httpx
import pytest

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.factories import admin_headers


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, settings: Settings) -> dict[str, str]:
    """Headers of a signed-in admin."""
    return await admin_headers(client, db, settings)
