"""Audit log response model (identity.md §16.3)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

ActorRole = Literal["owner", "manager", "staff", "ops", "agent", "admin", "system", "anonymous", "user"]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 date-time with a time zone: no plain numbers (`to=0.5`), dates or naive times."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2026-12-07T15:00:00Z")
    return value


# A date-time query parameter (`format: date-time` in the document) that refuses what pydantic would
# otherwise coerce: Unix timestamps, dates, and times without a zone.
Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]


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
