"""The bigquery warehouse on Google's client: streaming inserts with `insertId`, bounded retries.

Tables are created out of band (partitioned by `DATE(occurred_at)`). `BIGQUERY_API_ENDPOINT` points the
real client at another base URL (tests run a fake BigQuery HTTP server of their own).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials, Credentials
from google.oauth2 import service_account
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.config import Settings
from packfinderz.kit.warehouse.base import (
    AD_COLUMNS,
    JSON_COLUMNS,
    MARKETPLACE_COLUMNS,
    MONEY_COLUMNS,
    Dialect,
    Row,
    WarehouseError,
)

# Imported by name: the package ships py.typed, and letting mypy analyse it turns `google.cloud` into a
# typed package that hides the untyped pubsub_v1 and storage modules the other adapters import.
bigquery: Any = importlib.import_module("google.cloud.bigquery")

MAX_ATTEMPTS = 3
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 2.0
RETRYABLE_HTTP = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.TooManyRequests,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    requests.ConnectionError,
    requests.Timeout,
)
# insertAll row-error reasons that a later attempt can fix (the REST names of the gRPC codes above;
# `stopped` = a valid row not inserted because another row of the request failed).
RETRYABLE_REASONS = frozenset(
    {
        "backendError",
        "internalError",
        "rateLimitExceeded",
        "timeout",
        "stopped",
        "aborted",
        "deadlineExceeded",
        "resourceExhausted",
        "unavailable",
    }
)
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def retryable_exception(exc: BaseException) -> bool:
    """HTTP 408/429/5xx-gateway codes, the retryable gRPC codes, and connection failures."""
    if isinstance(exc, RETRYABLE_EXCEPTIONS):
        return True
    return isinstance(exc, gexc.GoogleAPICallError) and exc.code in RETRYABLE_HTTP


def retryable_row(errors: Sequence[Mapping[str, Any]]) -> bool:
    """A row error is retryable only if every inner error is."""
    return bool(errors) and all(e.get("reason") in RETRYABLE_REASONS for e in errors)


def _json_value(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json_row(row: Row, columns: Sequence[str]) -> dict[str, Any]:
    """A row as insertAll JSON: ids as strings, instants as RFC3339, JSON columns as JSON text."""
    found = {c: _json_value(c, row[c]) for c in columns if row.get(c) is not None}
    return {**{c: 0 for c in columns if c in MONEY_COLUMNS and c not in found}, **found}


def query_parameter(name: str, value: Any) -> Any:
    """A typed BigQuery query parameter (Scalar or Array) from a Python value."""
    if isinstance(value, list | tuple):
        return bigquery.ArrayQueryParameter(name, "STRING", [str(v) for v in value])
    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, float):
        return bigquery.ScalarQueryParameter(name, "FLOAT64", value)
    if isinstance(value, datetime):
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value)
    if isinstance(value, date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    return bigquery.ScalarQueryParameter(name, "STRING", None if value is None else str(value))


def to_bigquery_sql(sql: str) -> str:
    """`:name` parameters as BigQuery's `@name`."""
    return _PARAM.sub(r"@\1", sql)


def _credentials(settings: Settings) -> Credentials | None:
    scopes = ["https://www.googleapis.com/auth/bigquery"]
    if settings.gcp_credentials_json is not None:
        info = json.loads(settings.gcp_credentials_json.get_secret_value())
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call,no-any-return]
    if settings.google_application_credentials:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call,no-any-return]
            settings.google_application_credentials, scopes=scopes
        )
    return None


class BigQueryWarehouse:
    """Dataset `BIGQUERY_DATASET`, tables `BIGQUERY_MARKETPLACE_TABLE` and `BIGQUERY_AD_TABLE`."""

    adapter = "bigquery"
    dialect: Dialect = "bigquery"

    def __init__(
        self,
        client: Any,
        dataset: str,
        marketplace: str,
        ads: str,
        *,
        backoff_first: float = BACKOFF_FIRST,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.project = client.project
        self.dataset = dataset
        self.marketplace_name = marketplace
        self.ads_name = ads
        self.backoff_first = backoff_first
        self.sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> BigQueryWarehouse:
        """A client for GCP_PROJECT_ID with explicit credentials, ADC, or none at a custom endpoint."""
        if not settings.gcp_project_id:
            raise WarehouseError(
                "PACKFINDERZ_GCP_PROJECT_ID is required by the bigquery warehouse", retryable=False
            )
        if settings.bigquery_api_endpoint:
            client = bigquery.Client(
                project=settings.gcp_project_id,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": settings.bigquery_api_endpoint},
            )
        else:
            client = bigquery.Client(project=settings.gcp_project_id, credentials=_credentials(settings))
        return cls(
            client, settings.bigquery_dataset, settings.bigquery_marketplace_table, settings.bigquery_ad_table
        )

    def _table_id(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    @property
    def marketplace_table(self) -> str:
        return f"`{self._table_id(self.marketplace_name)}`"

    @property
    def ad_table(self) -> str:
        return f"`{self._table_id(self.ads_name)}`"

    async def write(self, session: AsyncSession, marketplace: Sequence[Row], ads: Sequence[Row]) -> None:
        if marketplace:
            await self.insert(
                self.marketplace_name, [to_json_row(r, MARKETPLACE_COLUMNS) for r in marketplace]
            )
        if ads:
            await self.insert(self.ads_name, [to_json_row(r, AD_COLUMNS) for r in ads])

    async def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Stream rows with insertId = event_id: ≤ 3 attempts, 250 ms backoff doubling to 2 s, retrying
        only retryable failures and only the rows that failed."""
        pending = rows
        delay = self.backoff_first
        for attempt in range(1, MAX_ATTEMPTS + 1):
            failed, retryable, reason = await self._insert_once(table, pending)
            if not failed:
                return
            if not retryable or attempt == MAX_ATTEMPTS:
                raise WarehouseError(
                    f"bigquery insert into {table} failed after {attempt} attempt(s): {reason}",
                    retryable=retryable,
                )
            pending = failed
            await self.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _insert_once(
        self, table: str, rows: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], bool, str]:
        """(rows that failed, whether all their failures are retryable, a short reason)."""
        try:
            errors = await asyncio.to_thread(
                self.client.insert_rows_json,
                self._table_id(table),
                rows,
                row_ids=[str(r["event_id"]) for r in rows],
                retry=None,  # our own retry rule (§3.1)
                timeout=10.0,
            )
        except Exception as exc:
            return rows, retryable_exception(exc), type(exc).__name__
        if not errors:
            return [], True, ""
        failed = [rows[int(e["index"])] for e in errors]
        retryable = all(retryable_row(e.get("errors") or []) for e in errors)
        reasons = sorted({str(inner.get("reason")) for e in errors for inner in e.get("errors") or []})
        return failed, retryable, "row errors " + ",".join(reasons)

    async def fetch(self, session: AsyncSession, sql: str, params: Mapping[str, Any]) -> list[Row]:
        config = bigquery.QueryJobConfig(query_parameters=[query_parameter(k, v) for k, v in params.items()])

        def run() -> list[Row]:
            result = self.client.query_and_wait(
                to_bigquery_sql(sql),
                job_config=config,
                retry=None,
                job_retry=None,
                api_timeout=10.0,
            )
            return [dict(row.items()) for row in result]

        try:
            return await asyncio.to_thread(run)
        except Exception as exc:
            raise WarehouseError(
                f"bigquery query failed: {type(exc).__name__}", retryable=retryable_exception(exc)
            ) from exc

    async def probe(self) -> dict[str, Any] | None:
        def check() -> None:
            for name in (self.marketplace_name, self.ads_name):
                self.client.get_table(self._table_id(name), retry=None, timeout=5.0)

        await asyncio.to_thread(check)
        return {"adapter": self.adapter}

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)
