"""The analytics warehouse behind one Protocol: `postgres` (default) or `bigquery` (spec §3.1)."""

from __future__ import annotations

import time

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.warehouse.base import Warehouse, WarehouseError

__all__ = ["Warehouse", "WarehouseError", "create_warehouse", "probe_warehouse"]


def create_warehouse(settings: Settings, database: Database | None = None) -> Warehouse:
    """The adapter selected by WAREHOUSE_ADAPTER (the BigQuery SDK is imported only when selected);
    `database` is what the postgres adapter probes."""
    if settings.warehouse_adapter == "bigquery":
        from packfinderz.kit.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse.from_settings(settings)
    from packfinderz.kit.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(settings.warehouse_pg_schema, database)


async def probe_warehouse(warehouse: Warehouse) -> float:
    """Run the adapter's probe once; returns latency in ms (startup.resource_ok)."""
    started = time.perf_counter()
    await warehouse.probe()
    return round((time.perf_counter() - started) * 1000, 2)
