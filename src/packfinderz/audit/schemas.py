"""Audit log response model (identity.md §16.3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ActorRole = Literal["owner", "manager", "staff", "ops", "agent", "admin", "system", "anonymous", "user"]


class AuditLogDTO(BaseModel):
    """Every column of an audit row."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "50ce1e67-56c2-4154-9799-170e0893f13c",
                    "created_at": "2026-12-07T14:48:08.139348Z",
                    "actor_user_id": "9abce9a5-97b0-4bea-949e-0041e8f016af",
                    "actor_store_id": "75885ddf-2c79-49d2-ab6f-5e049584891f",
                    "actor_role": "owner",
                    "action": "auth.login_succeeded",
                    "target_type": "user",
                    "target_id": "9abce9a5-97b0-4bea-949e-0041e8f016af",
                    "payload": {"via": "login"},
                    "request_id": "0fdca685-e6e4-4784-bcec-ece94dc67b26",
                }
            ]
        },
    )

    id: uuid.UUID
    created_at: datetime
    actor_user_id: uuid.UUID | None
    actor_store_id: uuid.UUID | None
    actor_role: ActorRole
    action: str
    target_type: str
    target_id: uuid.UUID | None
    payload: dict[str, Any]
    request_id: str | None
