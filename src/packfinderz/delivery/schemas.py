"""Agent and dispatch request/response models (commerce.md §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from packfinderz.kit.schemas import Input, Latitude, Longitude
from packfinderz.orders.schemas import ActionResult, AssignmentDTO

AgentStatus = Literal["available", "busy", "offline"]


class HeartbeatIn(Input):
    """Sent every ≤ 60 s; `lat` and `lng` come together or not at all."""

    status: AgentStatus
    lat: Latitude | None = None
    lng: Longitude | None = None


class HeartbeatOut(BaseModel):
    status: AgentStatus
    at: datetime
    expires_in_s: int


class LastHeartbeat(BaseModel):
    status: AgentStatus
    lat: float | None
    lng: float | None
    at: datetime


class AgentDTO(BaseModel):
    """An agent as admins see it: presence comes from the heartbeat (no fresh heartbeat = offline)."""

    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    is_active: bool
    presence: AgentStatus
    last_heartbeat: LastHeartbeat | None
    active_assignments: int


class CashIn(Input):
    """The amount the agent counted, when they counted it."""

    amount_cents: Annotated[int, Strict(), Field(ge=0, le=10**9)] | None = None


class ClaimResult(ActionResult):
    assignment: AssignmentDTO


class AssignIn(Input):
    agent_user_id: uuid.UUID


class AssignResult(BaseModel):
    order_id: uuid.UUID
    assignment: AssignmentDTO
