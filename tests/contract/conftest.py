"""Contract test fixtures: the live api (tests/fixtures/live_api.py) with the demo marketplace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.live_api import LiveApi, live_api


@pytest.fixture
async def api(settings: Settings, db: Database, tmp_path: Path) -> AsyncIterator[LiveApi]:
    async with live_api(settings, db, tmp_path) as running:
        yield running
