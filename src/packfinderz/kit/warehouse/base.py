"""The analytics warehouse behind one Protocol: `postgres` (default) or `bigquery`.

Spec: money-ads-analytics.md §3.1.

Rows are plain dicts keyed by the column names below; the writer of each adapter turns them into its own
types. Queries are written by the analytics domain for the adapter's `dialect` with `:name` parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

Dialect = Literal["postgres", "bigquery"]
Row = dict[str, Any]

MARKETPLACE_COLUMNS = (
    "event_id",
    "event_type",
    "occurred_at",
    "checkout_group_id",
    "order_id",
    "buyer_store_id",
    "vendor_store_id",
    "attributed_ad_id",
    "buyer_zip",
    "buyer_lat",
    "buyer_lng",
    "subtotal_cents",
    "discounts_cents",
    "tax_cents",
    "transport_fee_cents",
    "gross_revenue_cents",
    "refund_cents",
    "net_revenue_cents",
    "items",
    "payload",
)
AD_COLUMNS = (
    "event_id",
    "occurred_at",
    "type",
    "ad_id",
    "vendor_store_id",
    "buyer_store_id",
    "attributed_order_id",
    "cost_cents",
    "revenue_cents",
    "buyer_zip",
    "buyer_lat",
    "buyer_lng",
    "payload",
)
JSON_COLUMNS = frozenset({"items", "payload"})
MONEY_COLUMNS = frozenset(
    {
        "subtotal_cents",
        "discounts_cents",
        "tax_cents",
        "transport_fee_cents",
        "gross_revenue_cents",
        "refund_cents",
        "net_revenue_cents",
        "cost_cents",
        "revenue_cents",
    }
)


class WarehouseError(Exception):
    """A warehouse call failed; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Warehouse(Protocol):
    """Append-only event tables keyed by `event_id`, and read queries over them."""

    adapter: str
    dialect: Dialect

    @property
    def marketplace_table(self) -> str:
        """The marketplace table as written in a query of this dialect."""
        ...

    @property
    def ad_table(self) -> str:
        """The ad events table as written in a query of this dialect."""
        ...

    async def write(self, session: AsyncSession, marketplace: Sequence[Row], ads: Sequence[Row]) -> None:
        """Insert rows, skipping event ids already there; `charge` ad rows replace their previous values.

        postgres writes in `session` (the caller's one transaction per message); bigquery streams.
        """
        ...

    async def fetch(self, session: AsyncSession, sql: str, params: Mapping[str, Any]) -> list[Row]:
        """Run a read query; WarehouseError when the warehouse fails."""
        ...

    async def probe(self) -> dict[str, Any] | None:
        """Check the tables are reachable (readiness and startup); raises on failure."""
        ...

    async def close(self) -> None:
        """Release clients."""
        ...
