"""`record()`: write an audit row in the caller's transaction (identity.md §16.2)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import repository
from packfinderz.events.outbox import Actor
from packfinderz.kit.http import current_request_id
from packfinderz.kit.pagination import PageParams
from packfinderz.models.audit import AuditLog

SYSTEM = "system"
ANONYMOUS = "anonymous"

# Audit payloads never carry secrets, signed URLs or documents, and emails only hashed.
_FORBIDDEN_PAYLOAD_KEYS = frozenset(
    {"password", "password_hash", "temporary_password", "access_token", "refresh_token", "token", "email"}
)


async def record(
    session: AsyncSession,
    *,
    action: str,
    target_type: str,
    target_id: uuid.UUID | None = None,
    actor: Actor | None = None,
    actor_role: str | None = None,
    actor_user_id: uuid.UUID | None = None,
    store_id: uuid.UUID | None = None,
    payload: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditLog:
    """Insert one audit row in the session's transaction (rolled back with the action); never commits.

    `actor` (an authenticated user) gives the actor user, role and active store; without it the row is
    written as `system` (cron, CLI) unless `actor_role` says otherwise (e.g. `anonymous` for a failed
    login, with `actor_user_id` when the email matched a user). `store_id` overrides the actor's store.
    `request_id` defaults to the HTTP request id (the CLI passes its run id).
    """
    body = dict(payload or {})
    leaked = _FORBIDDEN_PAYLOAD_KEYS.intersection(body)
    if leaked:
        raise ValueError(f"audit payload may not contain {sorted(leaked)}")
    row = AuditLog(
        id=uuid.uuid4(),
        actor_user_id=actor.user_id if actor else actor_user_id,
        actor_store_id=store_id if store_id is not None else (actor.store_id if actor else None),
        actor_role=actor_role or (actor.role if actor else SYSTEM),
        action=action,
        target_type=target_type,
        target_id=target_id,
        payload=body,
        request_id=request_id if request_id is not None else current_request_id(),
    )
    session.add(row)
    await session.flush()
    return row


async def list_entries(
    session: AsyncSession, filters: repository.AuditFilters, page: PageParams
) -> tuple[list[AuditLog], str | None]:
    """One page of audit rows, newest first, matching the filters."""
    return await repository.list_entries(session, filters, page)
