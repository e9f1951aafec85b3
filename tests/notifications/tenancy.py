"""Tenancy matrix entries for the store inbox (appended to tests/identity/test_tenancy.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text


async def a_notice(world: Any) -> dict[str, Any]:
    """An unread notice in the inbox of A's vendor store."""
    async with world.db.transaction() as session:
        notice_id: uuid.UUID = (
            await session.execute(
                text(
                    "INSERT INTO notifications (store_id, type, title, message) "
                    "VALUES (:store, 'order_alert', 'New order', 'for A only') RETURNING id"
                ),
                {"store": world.a_vendor.store_id},
            )
        ).scalar_one()
    return {"id": notice_id, "table": "notifications", "notification_id": notice_id}


def cases(case: Any) -> list[Any]:
    """The inbox rows of the matrix, built with the matrix's TenancyCase class."""
    return [
        case(
            "notifications: read A's notice",
            "POST",
            "/api/v1/notifications/{notification_id}/read",
            a_notice,
            (404,),
        ),
        case("notifications: B's inbox", "GET", "/api/v1/notifications", a_notice, (200,)),
        case(
            "notifications: B's unread count", "GET", "/api/v1/notifications/unread-count", a_notice, (200,)
        ),
        case("notifications: B's read-all", "POST", "/api/v1/notifications/read-all", a_notice, (200,)),
        case(
            "notifications: read A's notice as a buyer",
            "POST",
            "/api/v1/notifications/{notification_id}/read",
            a_notice,
            (404,),
            "b_buyer",
        ),
    ]
