"""Audit log response model (identity.md §16.3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditLogDTO(BaseModel):
    """Every column of an audit row."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    actor_user_id: uuid.UUID | None
    actor_store_id: uuid.UUID | None
    actor_role: str
    action: str
    target_type: str
    target_id: uuid.UUID | None
    payload: dict[str, Any]
    request_id: str | None
