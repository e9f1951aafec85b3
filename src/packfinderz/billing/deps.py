"""Dependencies for the billing provider the app's lifespan keeps on `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from packfinderz.billing.provider import BillingProvider
from packfinderz.kit.db import Database


async def _billing(request: Request) -> BillingProvider:
    provider: BillingProvider = request.app.state.billing
    return provider


async def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


Billing = Annotated[BillingProvider, Depends(_billing)]
AppDatabase = Annotated[Database, Depends(_database)]
