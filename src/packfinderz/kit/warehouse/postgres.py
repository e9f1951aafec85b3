"""The postgres warehouse: schema `analytics` in the main database, written in the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.db import Database
from packfinderz.kit.warehouse.base import (
    AD_COLUMNS,
    JSON_COLUMNS,
    MARKETPLACE_COLUMNS,
    MONEY_COLUMNS,
    Dialect,
    Row,
    WarehouseError,
)


def _insert(table: str, columns: Sequence[str], conflict: str) -> str:
    values = ", ".join(f"CAST(:{c} AS jsonb)" if c in JSON_COLUMNS else f":{c}" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) {conflict}"


def _params(row: Row, columns: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for column in columns:
        value = row.get(column)
        if value is None and column in MONEY_COLUMNS:
            value = 0
        elif value is not None and column in JSON_COLUMNS:
            value = json.dumps(value)
        params[column] = value
    return params


class PostgresWarehouse:
    """Tables `<schema>.marketplace_events` and `<schema>.ad_events` (created by migrations)."""

    adapter = "postgres"
    dialect: Dialect = "postgres"

    def __init__(self, schema: str, database: Database | None = None) -> None:
        if not schema.isidentifier():
            raise ValueError("WAREHOUSE_PG_SCHEMA must be a plain identifier")
        self.schema = schema
        self.database = database
        mp_update = "ON CONFLICT (event_id) DO NOTHING"
        # A re-run rollup for the same ad/day replaces the charge row (its event id is per ad and day).
        held = self.ad_table
        ad_update = (
            "ON CONFLICT (event_id) DO UPDATE SET occurred_at = EXCLUDED.occurred_at, "
            "cost_cents = EXCLUDED.cost_cents, payload = EXCLUDED.payload "
            f"WHERE {held}.type = 'charge' AND ({held}.cost_cents, {held}.payload) "
            "IS DISTINCT FROM (EXCLUDED.cost_cents, EXCLUDED.payload)"
        )
        self._insert_marketplace = _insert(self.marketplace_table, MARKETPLACE_COLUMNS, mp_update)
        self._insert_ad = _insert(self.ad_table, AD_COLUMNS, ad_update)

    @property
    def marketplace_table(self) -> str:
        return f"{self.schema}.marketplace_events"

    @property
    def ad_table(self) -> str:
        return f"{self.schema}.ad_events"

    async def write(self, session: AsyncSession, marketplace: Sequence[Row], ads: Sequence[Row]) -> None:
        try:
            if marketplace:
                await session.execute(
                    text(self._insert_marketplace), [_params(r, MARKETPLACE_COLUMNS) for r in marketplace]
                )
            if ads:
                await session.execute(text(self._insert_ad), [_params(r, AD_COLUMNS) for r in ads])
        except DBAPIError as exc:
            raise WarehouseError(f"postgres write failed: {type(exc.orig).__name__}") from exc

    async def fetch(self, session: AsyncSession, sql: str, params: Mapping[str, Any]) -> list[Row]:
        try:
            result = await session.execute(text(sql), dict(params))
        except SQLAlchemyError as exc:
            raise WarehouseError(f"postgres query failed: {type(exc).__name__}") from exc
        return [dict(r._mapping) for r in result]

    async def probe(self) -> dict[str, Any] | None:
        if self.database is None:
            raise WarehouseError("no database to probe")
        async with self.database.engine.connect() as connection:
            for table in (self.marketplace_table, self.ad_table):
                await connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        return {"adapter": self.adapter}

    async def close(self) -> None:
        return None
