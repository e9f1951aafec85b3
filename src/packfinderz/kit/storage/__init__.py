"""Object storage behind one Protocol: `local` (default) or `gcs` (platform.md §8.1)."""

from __future__ import annotations

import time

from packfinderz.config import Settings
from packfinderz.kit.storage.base import Storage


def create_storage(settings: Settings) -> Storage:
    """The adapter selected by STORAGE_ADAPTER (the gcs SDK is imported only when selected)."""
    if settings.storage_adapter == "gcs":
        from packfinderz.kit.storage.gcs import GcsStorage

        return GcsStorage.from_settings(settings)
    from packfinderz.kit.storage.local import LocalStorage

    return LocalStorage.from_settings(settings)


async def probe_storage(storage: Storage) -> float:
    """Run the adapter's probe once; returns latency in ms (startup.resource_ok)."""
    started = time.perf_counter()
    await storage.probe()
    return round((time.perf_counter() - started) * 1000, 2)
