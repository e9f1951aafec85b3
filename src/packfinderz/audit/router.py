"""HTTP: GET /api/admin/v1/audit (identity.md §16.3)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from packfinderz.audit import service
from packfinderz.audit.repository import AuditFilters
from packfinderz.audit.schemas import ActorRole, AuditLogDTO
from packfinderz.auth.deps import AdminUser
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import ValidationFailed
from packfinderz.kit.openapi import error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.kit.schemas import DateTimeParam

router = APIRouter(prefix="/api/admin/v1/audit", tags=["admin: audit"])

_ACTION_PATTERN = r"^[a-z_]+(\.[a-z_]+)*(\.\*)?$"
_ACTION_RE = re.compile(_ACTION_PATTERN)


async def audit_filters(
    *,
    actor_user_id: uuid.UUID | None = None,
    actor_store_id: uuid.UUID | None = None,
    actor_role: ActorRole | None = None,
    action: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Exact action, or a prefix such as `license.*`.",
            json_schema_extra={"pattern": _ACTION_PATTERN},
        ),
    ] = None,
    target_type: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    target_id: uuid.UUID | None = None,
    request_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    created_from: Annotated[
        DateTimeParam | None,
        Query(alias="from", description="created_at >= from (RFC 3339 with a time zone)."),
    ] = None,
    created_to: Annotated[
        DateTimeParam | None, Query(alias="to", description="created_at < to (RFC 3339 with a time zone).")
    ] = None,
) -> AuditFilters:
    """Parse and check the audit list filters."""
    prefix = None
    if action is not None:
        if not _ACTION_RE.match(action):
            raise ValidationFailed(
                details={"action": "must be an action such as auth.login_failed or license.*"}
            )
        if action.endswith(".*"):
            prefix, action = action[:-1], None
    return AuditFilters(
        actor_user_id=actor_user_id,
        actor_store_id=actor_store_id,
        actor_role=actor_role,
        action=action,
        action_prefix=prefix,
        target_type=target_type,
        target_id=target_id,
        request_id=request_id,
        created_from=created_from,
        created_to=created_to,
    )


@router.get(
    "",
    response_model=PageEnvelope[AuditLogDTO],
    responses=error_responses(400, 401, 403),
    summary="Audit log entries, newest first",
)
async def list_audit(
    _admin: AdminUser,
    session: DbSession,
    filters: Annotated[AuditFilters, Depends(audit_filters)],
    page: Annotated[PageParams, Depends(page_params)],
) -> dict[str, Any]:
    """Admin only; every filter narrows the result (`from <= created_at < to`). Reads are not audited.

    `from` and `to` are RFC 3339 date-times with a time zone (a Unix timestamp, a bare date or a naive time
    is a 400); `action` is an exact action (`auth.login_failed`) or a prefix ending in `.*` (`license.*`).
    """
    rows, cursor = await service.list_entries(session, filters, page)
    return {"data": {"items": [AuditLogDTO.model_validate(r) for r in rows], "next_cursor": cursor}}
